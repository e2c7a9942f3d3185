import { request } from 'node:http';
import { sign, verify } from '@octokit/webhooks-methods';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { WEBHOOK_BODY_LIMIT_BYTES } from '../api/routes/webhooks.ts';
import { countWrites, fixturePayload, signedRequest, startIntake, TRACKED_REPOSITORY, WEBHOOK_SECRET, type Intake } from './support/webhooks.ts';

// Every refused delivery gets a JSON error naming the problem, and writes nothing: no delivery row,
// no job.

const errors = suite<{ api: Intake; disabled: Intake; vector: Intake }>('webhook intake errors', {} as never);

errors.before(async (context) => {
  context.api = await startIntake({ label: 'webhook_errors' });
  context.disabled = await startIntake({ label: 'webhook_disabled', secret: null });
  // GitHub's published test values: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
  context.vector = await startIntake({ label: 'webhook_vector', secret: "It's a Secret to Everybody" });
});

errors.after(async (context) => {
  await context.api.close();
  await context.disabled.close();
  await context.vector.close();
});

type Answer = { status: number; body: { error: { code: string; message: string } } };

async function post(api: Intake, headers: Record<string, string>, body: string | Uint8Array): Promise<Answer> {
  const response = await fetch(`${api.server.url}/webhooks/github`, { method: 'POST', headers, body });
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
  return { status: response.status, body: (await response.json()) as Answer['body'] };
}

async function assertRefused(api: Intake, answer: Answer, status: number, code: string, message: RegExp): Promise<void> {
  assert.is(answer.status, status, JSON.stringify(answer.body));
  assert.is(answer.body.error.code, code);
  assert.match(answer.body.error.message, message);
  assert.equal(await countWrites(api.database.db), { deliveries: 0, jobs: 0 }, 'nothing written');
}

const releasePayload = () => fixturePayload('release/published', { repository: TRACKED_REPOSITORY, tag: 'v1.0.0' });

errors("GitHub's test vector: the library signs and verifies it", async () => {
  const expected = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
  assert.is(await sign("It's a Secret to Everybody", 'Hello, World!'), expected);
  assert.ok(await verify("It's a Secret to Everybody", 'Hello, World!', expected));
  assert.not.ok(await verify("It's a Secret to Everybody", 'Hello, World?', expected));
});

errors("GitHub's test vector passes the intake's signature check (the body then fails as JSON, not as a signature)", async ({ vector }) => {
  const headers = {
    'content-type': 'application/json',
    'x-github-event': 'ping',
    'x-github-delivery': 'vector-1',
    'x-hub-signature-256': 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17',
  };
  await assertRefused(vector, await post(vector, headers, 'Hello, World!'), 400, 'invalid_input', /not valid JSON/);
  const tampered = { ...headers, 'x-hub-signature-256': 'sha256=857107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17' };
  await assertRefused(vector, await post(vector, tampered, 'Hello, World!'), 401, 'unauthorized', /does not match/);
});

errors('no secret configured: 503 naming GITHUB_WEBHOOK_SECRET', async ({ disabled }) => {
  const signed = await signedRequest({ event: 'release', payload: releasePayload() });
  await assertRefused(disabled, await post(disabled, signed.headers, signed.body), 503, 'service_unavailable', /GITHUB_WEBHOOK_SECRET/);
});

errors('a missing or wrong signature: 401', async ({ api }) => {
  const signed = await signedRequest({ event: 'release', payload: releasePayload() });
  const { 'x-hub-signature-256': _signature, ...unsigned } = signed.headers;
  await assertRefused(api, await post(api, unsigned, signed.body), 401, 'unauthorized', /X-Hub-Signature-256 header is missing/);
  const otherSecret = await signedRequest({ event: 'release', payload: releasePayload(), secret: 'not-the-secret' });
  await assertRefused(api, await post(api, otherSecret.headers, otherSecret.body), 401, 'unauthorized', /does not match/);
  await assertRefused(api, await post(api, signed.headers, `${signed.body} `), 401, 'unauthorized', /does not match/);
  const sha1 = { ...signed.headers, 'x-hub-signature-256': 'sha1=0123456789abcdef0123456789abcdef01234567' };
  await assertRefused(api, await post(api, sha1, signed.body), 401, 'unauthorized', /does not match/);
});

errors('missing X-GitHub-Event or X-GitHub-Delivery: 400', async ({ api }) => {
  const signed = await signedRequest({ event: 'release', payload: releasePayload() });
  const { 'x-github-event': _event, ...noEvent } = signed.headers;
  await assertRefused(api, await post(api, noEvent, signed.body), 400, 'invalid_input', /X-GitHub-Event header is missing/);
  const { 'x-github-delivery': _delivery, ...noDelivery } = signed.headers;
  await assertRefused(api, await post(api, noDelivery, signed.body), 400, 'invalid_input', /X-GitHub-Delivery header is missing/);
  const badDelivery = { ...signed.headers, 'x-github-delivery': '../../etc' };
  await assertRefused(api, await post(api, badDelivery, signed.body), 400, 'invalid_input', /X-GitHub-Delivery header is malformed/);
});

errors('an unparseable body: 400', async ({ api }) => {
  const cases: Array<{ body: string | Uint8Array; type: string; message: RegExp }> = [
    { body: '{"action": "published", ', type: 'application/json', message: /not valid JSON/ },
    { body: '[1, 2, 3]', type: 'application/json', message: /not a JSON object/ },
    { body: 'null', type: 'application/json', message: /not a JSON object/ },
    { body: 'other=1', type: 'application/x-www-form-urlencoded', message: /no payload field/ },
    { body: 'payload=%7Bnot-json', type: 'application/x-www-form-urlencoded', message: /not valid JSON/ },
    { body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), type: 'application/json', message: /not valid UTF-8/ },
  ];
  for (const { body, type, message } of cases) {
    const signature = await sign(WEBHOOK_SECRET, typeof body === 'string' ? body : Buffer.from(body).toString('utf8'));
    const headers = { 'content-type': type, 'x-github-event': 'release', 'x-github-delivery': crypto.randomUUID(), 'x-hub-signature-256': signature };
    await assertRefused(api, await post(api, headers, body), 400, 'invalid_input', message);
  }
});

errors('a handled event whose payload lacks what we read: 400 with the issues', async ({ api }) => {
  const payload = releasePayload();
  delete (payload.release as Record<string, unknown>).tag_name;
  const signed = await signedRequest({ event: 'release', payload });
  const answer = (await post(api, signed.headers, signed.body)) as Answer & { body: { error: { issues?: Array<{ path: string }> } } };
  await assertRefused(api, answer, 400, 'invalid_input', /release payload does not have the expected shape/);
  assert.equal(
    answer.body.error.issues?.map((issue) => issue.path),
    ['release.tag_name'],
  );
  const push = fixturePayload('push/payload', { repository: TRACKED_REPOSITORY });
  delete push.ref;
  const signedPush = await signedRequest({ event: 'push', payload: push });
  await assertRefused(api, await post(api, signedPush.headers, signedPush.body), 400, 'invalid_input', /push payload/);
});

errors('other content types and encodings: 415', async ({ api }) => {
  const signed = await signedRequest({ event: 'release', payload: releasePayload() });
  for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
    await assertRefused(api, await post(api, { ...signed.headers, 'content-type': type }, signed.body), 415, 'unsupported_media_type', /Content-Type must be/);
  }
  const { 'content-type': _type, ...untyped } = signed.headers;
  await assertRefused(api, await post(api, untyped, new TextEncoder().encode(signed.body)), 415, 'unsupported_media_type', /Content-Type must be/);
  await assertRefused(api, await post(api, { ...signed.headers, 'content-encoding': 'gzip' }, signed.body), 415, 'unsupported_media_type', /Content-Encoding "gzip"/);
});

/** Sends `chunks` of a body (declared with a Content-Length, or chunked) until the server answers. */
function postOversized(api: Intake, options: { declaredLength?: number; chunks: number; chunkBytes: number }): Promise<{ status: number; body: string }> {
  const url = new URL(`${api.server.url}/webhooks/github`);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'release',
          'x-github-delivery': crypto.randomUUID(),
          'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
          ...(options.declaredLength === undefined ? {} : { 'content-length': String(options.declaredLength) }),
        },
      },
      (response) => {
        answered = true;
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        response.on('end', () => {
          resolve({ status: response.statusCode ?? 0, body });
          req.destroy();
        });
      },
    );
    // The server may close the connection once it has answered: that is the point.
    req.on('error', (error) => (answered ? undefined : reject(error)));
    const chunk = Buffer.alloc(options.chunkBytes, 0x20);
    let written = 0;
    const writeMore = () => {
      while (!answered && written < options.chunks) {
        written += 1;
        if (!req.write(chunk)) {
          req.once('drain', writeMore);
          return;
        }
      }
      if (!answered && options.declaredLength === undefined) req.end();
    };
    writeMore();
  });
}

errors('a Content-Length over 25 MB: 413 before the body is read', async ({ api }) => {
  // Declares 25 MB + 1 byte but sends only 64 KB: the answer cannot have waited for the body.
  const answer = await postOversized(api, { declaredLength: WEBHOOK_BODY_LIMIT_BYTES + 1, chunks: 1, chunkBytes: 64 * 1024 });
  assert.is(answer.status, 413);
  assert.equal(JSON.parse(answer.body), { error: { code: 'payload_too_large', message: `request body is larger than ${WEBHOOK_BODY_LIMIT_BYTES} bytes` } });
  assert.equal(await countWrites(api.database.db), { deliveries: 0, jobs: 0 });
});

errors('a chunked body that streams past 25 MB: 413', async ({ api }) => {
  const answer = await postOversized(api, { chunks: 30, chunkBytes: 1024 * 1024 });
  assert.is(answer.status, 413);
  assert.is(JSON.parse(answer.body).error.code, 'payload_too_large');
  assert.equal(await countWrites(api.database.db), { deliveries: 0, jobs: 0 });
});

errors.run();
