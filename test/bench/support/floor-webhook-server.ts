import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify } from '@octokit/webhooks-methods';
import Koa from 'koa';
import pg from 'pg';
import getRawBody from 'raw-body';
import { storeDeliveriesStatement, type NewDelivery } from '../../../src/db/webhook-deliveries.ts';

// The floor for the webhook intake benchmark: the least an endpoint can do and still store each
// delivery before answering. It is the bare endpoint (one Koa middleware: read the body, verify the
// signature) plus JSON.parse, plain property reads for the envelope, and the intake's own statement
// (storeDeliveriesStatement: the same table, indexes, product match and conflict rule) group
// committed over one node-postgres connection. No router, error mapping, metrics, zod or Slonik,
// and no validation beyond the signature: it only serves the benchmark payload. What the intake
// costs beyond it is the service's own code; what it costs beyond the bare endpoint, any intake
// that stores before it answers pays on this machine.
// Prints its port on stdout. DATABASE_URL: the benchmark's database (application_name set there).

const secret = process.env.GITHUB_WEBHOOK_SECRET ?? '';
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
await client.connect();

type Pending = { delivery: NewDelivery; done: (status: 200 | 202 | 500) => void };
let waiting: Pending[] = [];
let committing = false;

function drain(): void {
  if (committing || waiting.length === 0) return;
  const batch = waiting;
  waiting = [];
  committing = true;
  const statement = storeDeliveriesStatement(batch.map((pending) => pending.delivery));
  client
    // Slonik numbers its placeholders $slonik_N and renames them $N as it sends the statement.
    .query<{ deliveryId: string }>({ name: statement.name, text: statement.sql.replaceAll('$slonik_', '$'), values: statement.values as unknown[] })
    .then(
      (result) => {
        const stored = new Set(result.rows.map((row) => row.deliveryId));
        for (const pending of batch) pending.done(stored.has(pending.delivery.deliveryId) ? 202 : 200);
      },
      (error: unknown) => {
        process.stderr.write(`floor: storing failed: ${String(error)}\n`);
        for (const pending of batch) pending.done(500);
      },
    )
    .finally(() => {
      committing = false;
      drain();
    });
}

const app = new Koa();
app.use(async (ctx) => {
  const receivedAt = new Date();
  const raw = await getRawBody(ctx.req, { length: ctx.get('content-length') || null, limit: 25 * 1024 * 1024 });
  const body = raw.toString('utf8');
  if (!(await verify(secret, body, ctx.get('x-hub-signature-256')))) {
    ctx.status = 401;
    ctx.body = { error: { code: 'unauthorized', message: 'signature' } };
    return;
  }
  const payload = JSON.parse(body) as { action?: string; repository?: { id: number; full_name: string } };
  const deliveryId = ctx.get('x-github-delivery');
  const event = ctx.get('x-github-event');
  const delivery: NewDelivery = {
    deliveryId,
    event,
    action: payload.action ?? null,
    repositoryId: payload.repository?.id ?? null,
    repositoryFullName: payload.repository?.full_name ?? null,
    hookId: Number(ctx.get('x-github-hook-id')) || null,
    payload: raw,
    headers: githubHeaders(ctx.req.headers),
    ignoredReason: null,
    receivedAt,
  };
  ctx.status = await new Promise<200 | 202 | 500>((done) => {
    waiting.push({ delivery, done });
    drain();
  });
  ctx.body = { deliveryId, status: ctx.status === 202 ? 'queued' : ctx.status === 200 ? 'duplicate' : 'error' };
});

function githubHeaders(headers: NodeJS.Dict<string | string[]>): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name in headers) if (name.startsWith('x-github-')) kept[name] = String(headers[name]);
  return kept;
}

const server = createServer(app.callback());
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ msg: 'listening', port: (server.address() as AddressInfo).port })}\n`));
process.on('SIGTERM', () => server.close(() => void client.end().finally(() => process.exit(0))));
