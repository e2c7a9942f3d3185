import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildInfo } from '../src/build-info.ts';
import type { Config } from '../src/config.ts';
import { errorResponse } from '../src/error-response.ts';
import { MethodNotAllowedError, NotFoundError } from '../src/errors.ts';
import { metricsAccessAllowed, metricsAccessRefused } from '../src/metrics/metrics-access.ts';
import { renderMetrics } from '../src/metrics/registry.ts';
import type { Logger } from '../src/logger.ts';

// The worker's small HTTP server on METRICS_PORT: its metrics, its health and its version. Plain
// node:http: three fixed routes do not need the API's stack, and it must keep answering while the
// worker drains. Every error is the project's JSON error shape.

export type WorkerHealth = () => Promise<{ healthy: boolean; details: Record<string, unknown> }>;

export type RunningMetricsServer = { url: string; port: number; server: Server; close: () => Promise<void> };

const ROUTES = new Set(['/metrics', '/-/healthz', '/-/version']);

export async function startMetricsServer(config: Config, logger: Logger, health: WorkerHealth): Promise<RunningMetricsServer> {
  const server = createServer((request, response) => {
    handle(request, response, config, health).catch((error: unknown) => {
      const { status, body, headers } = errorResponse(error);
      if (status >= 500) logger.error({ err: error, path: request.url }, 'metrics server request failed');
      if (response.headersSent) {
        response.destroy();
        return;
      }
      for (const [name, value] of Object.entries(headers)) response.setHeader(name, value);
      sendJson(response, status, body);
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.METRICS_PORT, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://localhost:${port}`;
  logger.info({ url, metrics: `${url}/metrics`, health: `${url}/-/healthz` }, 'worker metrics server listening');
  return {
    url,
    port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, config: Config, health: WorkerHealth): Promise<void> {
  // The path as sent, without the query: a request target like `//` is no URL, but it is a path no route has.
  const path = (request.url ?? '/').split('?')[0]!;
  if (!ROUTES.has(path)) throw new NotFoundError('route', `no route for ${request.method} ${path}`);
  if (request.method !== 'GET' && request.method !== 'HEAD') throw new MethodNotAllowedError(String(request.method), ['GET', 'HEAD']);
  response.setHeader('Cache-Control', 'no-store');
  if (path === '/metrics') {
    if (!metricsAccessAllowed(request.headers.authorization, config.METRICS_TOKEN)) throw metricsAccessRefused();
    const { contentType, body } = await renderMetrics();
    response.writeHead(200, { 'Content-Type': contentType });
    response.end(request.method === 'HEAD' ? undefined : body);
    return;
  }
  if (path === '/-/version') {
    const { name, version, gitSha, node } = buildInfo(config.GIT_SHA);
    sendJson(response, 200, { name, version, gitSha, node });
    return;
  }
  const started = performance.now();
  const { healthy, details } = await health();
  sendJson(response, healthy ? 200 : 503, { status: healthy ? 'ok' : 'unavailable', ...details, durationMs: Math.round(performance.now() - started) });
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}
