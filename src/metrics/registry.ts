import { collectDefaultMetrics, Registry } from 'prom-client';

/**
 * The process's one metrics registry: the project's metrics (src/metrics/metrics.ts) and Node's
 * default process metrics (CPU, resident memory, heap, event-loop lag, open file descriptors, GC),
 * which the container CPU and memory alerts of docs/operations.md are built on. The API and the
 * worker each serve it on their own `/metrics`; `release-registry start` runs both in one process and
 * serves it once, on the API.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** The Prometheus text exposition of every metric, with the content type to answer it with. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
