import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verify } from '@octokit/webhooks-methods';
import Koa from 'koa';
import getRawBody from 'raw-body';

// The ceiling for the webhook intake benchmark: a bare Koa endpoint that reads the body under the
// same limit, verifies the signature with the same library and answers 202, storing nothing.
// Prints its port on stdout.

const secret = process.env.GITHUB_WEBHOOK_SECRET ?? '';
const app = new Koa();
app.use(async (ctx) => {
  const raw = await getRawBody(ctx.req, { length: ctx.get('content-length') || null, limit: 25 * 1024 * 1024 });
  const valid = await verify(secret, raw.toString('utf8'), ctx.get('x-hub-signature-256'));
  ctx.status = valid ? 202 : 401;
  ctx.body = { deliveryId: ctx.get('x-github-delivery'), status: valid ? 'queued' : 'unauthorized' };
});
const server = createServer(app.callback());
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ msg: 'listening', port: (server.address() as AddressInfo).port })}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
