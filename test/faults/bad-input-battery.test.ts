import { request as httpRequest } from 'node:http';
import { sql } from 'slonik';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { findProductByName } from '../../src/db/products.ts';
import { githubRelease, seedReleases, syntheticTags } from '../support/seed.ts';
import { fixturePayload, signedRequest, WEBHOOK_SECRET } from '../support/webhooks.ts';
import { ADMIN_TOKEN, processOutput, startFaultStack } from './support/fault-stack.ts';

// Scenario 5. A battery of bad input against every endpoint of the real API process, the routes
// taken from its own /openapi.json so that none is missed: path tricks (`..`, encoded slashes and
// dots, %00, malformed escapes, unicode, very long segments), unknown products, absurd and
// malformed query values, foreign and forged cursors, invalid semver ranges and dates, unknown and
// repeated parameters, wrong methods, bad tokens, malformed, mistyped and oversized bodies, and
// webhooks with bad or missing signatures and headers. Every answer is a 4xx with the JSON error
// body `{ "error": { "code", "message" } }`, never a 5xx, and nothing is written: the row counts of
// every table, pg-boss's jobs included, and the change log's last id are the same afterwards.

type Probe = {
  name: string;
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** A Content-Length larger than the body sent: the rest never comes (an upload refused by its header). */
  declaredLength?: number;
};
type Answer = { status: number; contentType: string; body: string };

const PRODUCT = { name: 'widget', repository: 'acme/widget' };
const VALID_PATH_VALUES: Record<string, string> = { product: 'widget', version: 'v0.0.1', line: '0.0' };

const PATH_TRICKS = [
  '..',
  '%2e%2e',
  '..%2F..%2Fetc%2Fpasswd',
  'widget%2Flatest',
  '%2F',
  'widget%00',
  '%00',
  '%',
  '%E0%A4%A',
  '%FF%FE',
  '%C3%BCn%C3%AFc%C3%B6d%C3%A9',
  '%F0%9F%9A%80',
  'w%E2%80%AEidget',
  'WIDGET',
  "widget'%20OR%201=1--",
  'x'.repeat(3_000),
  'no-such-product',
];

/** Bad values per query parameter name, on top of the generic ones every parameter gets. */
const QUERY_TRICKS: Record<string, string[]> = {
  limit: ['0', '-1', '1001', '999999999', '99999999999999999999', '1.5', '1e3', '0x10'],
  after: ['-1', '1e3', '9999999999999999999999', '0x10'],
  cursor: ['garbage', 'eyJ4IjoxfQ', 'AAAA', '%00', '..%2F..'],
  range: ['>=1.2.3%20<', '^^1', '1.2.3%20-%20', '|||', '~>', 'x'.repeat(2_000), '*.*.*.*', '>=%F0%9F%9A%80'],
  since: ['2024-13-45', 'yesterday', '2024-05-01T25:00:00Z', '2024-05-01T00:00:00', '0'],
  until: ['2024-02-30', 'tomorrow', '1714521600'],
  public: ['yes', 'TRUE', '1'],
  development: ['no', 'FALSE', '0'],
  include_deleted: ['1', 'True', 'maybe'],
  status: ['all', 'FAILED', 'deleted'],
  product: ['no-such-product', '..', '%00', 'x'.repeat(300)],
};
const GENERIC_QUERY_TRICKS = ['', '%00', '%F0%9F%9A%80', '%', 'x'.repeat(10_000)];

test('every endpoint answers bad input with a 4xx JSON error, never a 5xx, and writes nothing', async () => {
  const stack = await startFaultStack({ label: 'faults_bad_input', products: [PRODUCT] });
  try {
    const product = (await findProductByName(stack.db, 'widget'))!;
    const tags = syntheticTags(40);
    await seedReleases(stack.db, product, tags, tags.map((tag, index) => githubRelease(index + 1, tag.name)));
    const api = await stack.startApi();
    const doc = JSON.parse((await send(api.url, { name: 'openapi', method: 'GET', path: '/openapi.json' })).body) as OpenApiDocument;
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ path, method: method.toUpperCase(), operation })));
    assert.ok(operations.length >= 15, `the document lists the routes (${operations.length})`);

    // A real cursor of one list, to be sent to another and forged.
    const cursor = await linkCursor(api.url);
    assert.ok(cursor !== undefined && cursor.length > 4, 'the list issued a cursor');

    const probes: Probe[] = [];
    const covered = new Set<string>();
    for (const { path, method, operation } of operations) {
      covered.add(`${method} ${path}`);
      probes.push(...probesFor(path, method, operation, cursor));
    }
    probes.push(...webhookProbes(await signedVariants()));
    probes.push(...strayPaths());
    for (const { path, method } of operations) if (!covered.has(`${method} ${path}`)) throw new Error(`no probe for ${method} ${path}`);

    const before = await footprint(stack.db);
    const failures: string[] = [];
    const statuses: Record<string, number> = {};
    for (const probe of probes) {
      const answer = await send(api.url, probe);
      statuses[answer.status] = (statuses[answer.status] ?? 0) + 1;
      const problem = judge(answer);
      if (problem !== null) failures.push(`${probe.name}: ${probe.method} ${probe.path.slice(0, 120)} -> ${answer.status} ${answer.body.slice(0, 160)} (${problem})`);
    }
    const after = await footprint(stack.db);
    process.stdout.write(`# ${probes.length} bad requests over ${operations.length} routes: ${JSON.stringify(statuses)}\n`);
    assert.equal(failures, [], `every bad request gets a 4xx JSON error:\n${failures.join('\n')}`);
    assert.equal(after, before, 'nothing was written');
    const health = await send(api.url, { name: 'health', method: 'GET', path: '/-/readyz' });
    assert.is(health.status, 200, 'the API still serves');
  } catch (error) {
    process.stdout.write(processOutput(stack));
    throw error;
  } finally {
    await stack.close();
  }
});

type OpenApiDocument = { paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string }>; requestBody?: unknown; security?: unknown[] }>> };

function probesFor(template: string, method: string, operation: { parameters?: Array<{ in: string; name: string }>; requestBody?: unknown }, cursor: string): Probe[] {
  const parameters = operation.parameters ?? [];
  const pathParameters = parameters.filter((parameter) => parameter.in === 'path').map((parameter) => parameter.name);
  const queryParameters = parameters.filter((parameter) => parameter.in === 'query').map((parameter) => parameter.name);
  const fill = (overrides: Record<string, string>) => template.replace(/\{(\w+)\}/g, (_, name: string) => overrides[name] ?? VALID_PATH_VALUES[name]!);
  const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
  const route = `${method} ${template}`;
  const probes: Probe[] = [];
  const isAdmin = template.startsWith('/v1/admin') || template.endsWith('/sync');

  for (const name of pathParameters) {
    for (const trick of PATH_TRICKS) probes.push({ name: `${route} path ${name}`, method, path: fill({ [name]: trick }), headers: auth });
  }
  for (const name of queryParameters) {
    for (const trick of [...(QUERY_TRICKS[name] ?? []), ...GENERIC_QUERY_TRICKS]) {
      probes.push({ name: `${route} query ${name}`, method, path: `${fill({})}?${name}=${trick}`, headers: auth });
    }
    probes.push({ name: `${route} repeated ${name}`, method, path: `${fill({})}?${name}=1&${name}=2`, headers: auth });
  }
  if (queryParameters.includes('cursor')) {
    // A product list's cursor is a position in the newest-first order, valid under any filter of
    // that product's list; in another kind of list it is foreign.
    if (template !== '/v1/releases/{product}') probes.push({ name: `${route} foreign cursor`, method, path: `${fill({})}?cursor=${cursor}`, headers: auth });
    probes.push({ name: `${route} forged cursor`, method, path: `${fill({})}?cursor=${cursor.slice(0, -3)}${cursor.slice(-3) === 'AAA' ? 'BBB' : 'AAA'}`, headers: auth });
  }
  // Operations endpoints (health, metrics) ignore query strings, as Prometheus scrapers expect.
  if (template.startsWith('/v1/')) {
    probes.push({ name: `${route} unknown parameter`, method, path: `${fill({})}?bogus=1`, headers: auth });
  }
  if (template.startsWith('/v1/')) {
    for (const authorization of ['Bearer not-a-token', 'Bearer ', 'Basic dXNlcjpwYXNz', `Bearer ${ADMIN_TOKEN}x`, `Bearer ${'é'.repeat(20)}`]) {
      probes.push({ name: `${route} bad token`, method, path: fill({}), headers: { authorization } });
    }
  }
  if (isAdmin) probes.push({ name: `${route} without a token`, method, path: fill({}) });
  for (const wrong of ['PUT', 'DELETE', 'PATCH', method === 'GET' ? 'POST' : 'GET']) {
    if (template === '/webhooks/github' && wrong === 'GET') continue;
    probes.push({ name: `${route} method ${wrong}`, method: wrong, path: fill({}), headers: auth });
  }
  if (operation.requestBody !== undefined && template !== '/webhooks/github') {
    const json = { ...auth, 'content-type': 'application/json' };
    const bodies: Array<[string, string | Buffer, Record<string, string>]> = [
      ['malformed JSON', '{"mode":', json],
      ['a JSON array', '[1,2]', json],
      ['a JSON string', '"full"', json],
      ['a wrong type', '{"mode":5}', json],
      ['an unknown mode', '{"mode":"everything"}', json],
      ['an unknown field', '{"mode":"full","force":true}', json],
      ['unicode', '{"mode":"f\u00fcll\ud83d\ude80"}', json],
      ['a NUL', '{"mode":"full\\u0000"}', json],
      ['text/plain', 'mode=full', { ...auth, 'content-type': 'text/plain' }],
      ['an oversized body', `{"mode":"full","pad":"${'x'.repeat(64 * 1024)}"}`, json],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), json],
    ];
    for (const [label, body, headers] of bodies) probes.push({ name: `${route} body: ${label}`, method, path: fill({}), headers, body });
    probes.push({ name: `${route} unknown product with a valid body`, method, path: fill({ product: 'no-such-product' }), headers: json, body: '{"mode":"full"}' });
  }
  return probes;
}

type Signed = { headers: Record<string, string>; body: string };

async function signedVariants(): Promise<{ valid: Signed; notAnObject: Signed; badShape: Signed; unicode: Signed; wrongSecret: Signed; form: Signed }> {
  const payload = fixturePayload('release/published', { repository: { id: 1, fullName: 'acme/widget' } });
  const raw = async (body: string, secret = WEBHOOK_SECRET) => {
    const request = await signedRequest({ event: 'release', payload: {}, secret });
    const { sign } = await import('@octokit/webhooks-methods');
    return { headers: { ...request.headers, 'x-hub-signature-256': await sign(secret, body) }, body };
  };
  return {
    valid: await signedRequest({ event: 'release', payload }),
    notAnObject: await raw('[1,2,3]'),
    badShape: await raw('{"action":5,"repository":"acme/widget"}'),
    unicode: await raw('{"action":"p\u00fcblished\ud83d\ude80","repository":{"id":"x","full_name":"\u202eacme"}}'),
    wrongSecret: await signedRequest({ event: 'release', payload, secret: 'not-the-secret-0123456789' }),
    form: await raw('notpayload=1'),
  };
}

function webhookProbes(signed: Awaited<ReturnType<typeof signedVariants>>): Probe[] {
  const path = '/webhooks/github';
  const probe = (name: string, headers: Record<string, string>, body: string | Buffer): Probe => ({ name: `webhook: ${name}`, method: 'POST', path, headers, body });
  const { valid } = signed;
  const without = (name: string) => Object.fromEntries(Object.entries(valid.headers).filter(([key]) => key !== name));
  return [
    probe('no signature', without('x-hub-signature-256'), valid.body),
    probe('signature of another secret', signed.wrongSecret.headers, signed.wrongSecret.body),
    probe('signature not hex', { ...valid.headers, 'x-hub-signature-256': 'sha256=zz' }, valid.body),
    probe('sha1 signature only', { ...without('x-hub-signature-256'), 'x-hub-signature': 'sha1=0000000000000000000000000000000000000000' }, valid.body),
    probe('body changed after signing', valid.headers, valid.body.replace('published', 'deleted')),
    probe('empty body', valid.headers, ''),
    probe('no event header', without('x-github-event'), valid.body),
    probe('event header with a path', { ...valid.headers, 'x-github-event': '../release' }, valid.body),
    probe('no delivery id', without('x-github-delivery'), valid.body),
    probe('delivery id with a path', { ...valid.headers, 'x-github-delivery': '../../etc/passwd' }, valid.body),
    probe('delivery id too long', { ...valid.headers, 'x-github-delivery': 'a'.repeat(500) }, valid.body),
    probe('text/plain', { ...valid.headers, 'content-type': 'text/plain' }, valid.body),
    probe('no content type', without('content-type'), valid.body),
    probe('gzip encoding', { ...valid.headers, 'content-encoding': 'gzip' }, valid.body),
    probe('signed JSON array', signed.notAnObject.headers, signed.notAnObject.body),
    probe('signed wrong shape', signed.badShape.headers, signed.badShape.body),
    probe('signed unicode garbage', signed.unicode.headers, signed.unicode.body),
    probe('form without payload', { ...signed.form.headers, 'content-type': 'application/x-www-form-urlencoded' }, signed.form.body),
    probe('invalid UTF-8', valid.headers, Buffer.from([0x7b, 0xff, 0xfe, 0x7d])),
    // Announced, not sent: the intake refuses it by its Content-Length, and a client still writing
    // when the server closes would lose the answer to EPIPE (GitHub never sends over 25 MB).
    { ...probe('oversized (26 MB announced)', { ...valid.headers, 'x-hub-signature-256': 'sha256=00' }, Buffer.alloc(0)), declaredLength: 26 * 1024 * 1024 },
  ];
}

/** Paths no route has: traversal, doubled slashes, encoded separators, NUL, unicode. */
function strayPaths(): Probe[] {
  return [
    '/../etc/passwd',
    '/v1/../../etc/passwd',
    '/v1/releases/widget/latest/extra',
    '//v1//releases',
    '/v1/%2e%2e/admin/deliveries',
    '/v1/releases/%2e%2e%2fadmin%2fdeliveries',
    '/v1/releases%00',
    '/%00',
    '/v1/r%C3%A9leases',
    '/v2/releases',
    '/webhooks/github/..%2F..%2Fmetrics',
    `/${'a/'.repeat(2_000)}`,
  ].map((path) => ({ name: 'stray path', method: 'GET', path }));
}

function judge(answer: Answer): string | null {
  if (answer.status < 400 || answer.status > 499) return 'not a 4xx';
  if (!answer.contentType.startsWith('application/json')) return `content type ${answer.contentType || '(none)'}`;
  try {
    const body = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } };
    if (typeof body.error?.code !== 'string' || typeof body.error.message !== 'string') return 'no { error: { code, message } }';
  } catch {
    return 'body is not JSON';
  }
  return null;
}

/**
 * One request, the path sent exactly as written (no client-side normalization). A body goes in
 * 64 kB pieces and stops once an answer has come (a server may refuse a body early).
 */
function send(baseUrl: string, probe: Probe): Promise<Answer & { link?: string }> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const body = probe.body === undefined ? undefined : typeof probe.body === 'string' ? Buffer.from(probe.body, 'utf8') : probe.body;
    let answered = false;
    let wake: () => void = () => undefined;
    const request = httpRequest(
      { host: url.hostname, port: url.port, method: probe.method, path: probe.path, agent: false, timeout: 10_000, headers: { ...(body ? { 'content-length': String(probe.declaredLength ?? body.length) } : {}), ...probe.headers } },
      (response) => {
        answered = true;
        wake();
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, contentType: String(response.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8'), link: String(response.headers.link ?? '') });
          if (probe.declaredLength !== undefined) request.destroy();
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`${probe.name}: no answer within 10 s`)));
    request.on('error', (error) => {
      wake();
      if (!answered) reject(new Error(`${probe.name}: ${probe.method} ${probe.path.slice(0, 100)}: ${error.message}`));
    });
    if (probe.declaredLength !== undefined) request.flushHeaders();
    void (async () => {
      const CHUNK = 64 * 1024;
      for (let offset = 0; body !== undefined && offset < body.length && !answered && !request.destroyed; offset += CHUNK) {
        if (!request.write(body.subarray(offset, offset + CHUNK))) {
          await new Promise<void>((resume) => {
            wake = resume;
            request.once('drain', resume);
          });
        }
      }
      if (!request.destroyed && probe.declaredLength === undefined) request.end();
    })();
  });
}

async function linkCursor(baseUrl: string): Promise<string | undefined> {
  const page = await send(baseUrl, { name: 'page', method: 'GET', path: '/v1/releases/widget?limit=2' });
  return /cursor=([^&>]+)/.exec(page.link ?? '')?.[1];
}

const tableCount = z.object({ name: z.string(), rows: z.number() });

/** Rows of every table of ours and pg-boss's jobs, and the change log's last id. */
async function footprint(db: import('../../src/db/pool.ts').Database): Promise<Record<string, number>> {
  const tables = await db.anyFirst(sql.type(z.object({ name: z.string() }))`
    SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables WHERE schemaname IN ('public', 'pgboss') ORDER BY 1`);
  const counts: Record<string, number> = {};
  for (const table of tables) {
    const row = await db.one(sql.type(tableCount)`SELECT ${table} AS name, (SELECT count(*)::int FROM ${sql.identifier(table.split('.').map((part) => part.replace(/"/g, '')))}) AS rows`);
    counts[row.name] = row.rows;
  }
  counts['release_changes max id'] = await db.oneFirst(sql.type(z.object({ id: z.number() }))`SELECT coalesce(max(id), 0)::int AS id FROM release_changes`);
  return counts;
}

test.run();
