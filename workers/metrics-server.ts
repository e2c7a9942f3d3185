import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildInfo } from '../src/build-info.ts';
import type { Config } from '../src/config.ts';
import { metricsAccessAllowed } from '../src/metrics/metrics-access.ts';
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
      logger.error({ err: error, path: request.url }, 'metrics server request failed');
      if (!response.headersSent) sendJson(response, 500, { error: { code: 'internal_error', message: 'internal error' } });
      else response.destroy();
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
  const path = new URL(request.url ?? '/', 'http://localhost').pathname;
  if (!ROUTES.has(path)) {
    sendJson(response, 404, { error: { code: 'not_found', message: `no route for ${request.method} ${path}` } });
    return;
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('Allow', 'GET, HEAD');
    sendJson(response, 405, { error: { code: 'method_not_allowed', message: `method ${request.method} is not allowed here; allowed: GET, HEAD` } });
    return;
  }
  response.setHeader('Cache-Control', 'no-store');
  if (path === '/metrics') {
    if (!metricsAccessAllowed(request.headers.authorization, config.METRICS_TOKEN)) {
      response.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
      sendJson(response, 401, { error: { code: 'unauthorized', message: 'GET /metrics needs Authorization: Bearer <METRICS_TOKEN>' } });
      return;
    }
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
