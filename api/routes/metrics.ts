import type { Router } from '@koa/router';
import { z } from 'zod';
import { metricsAccessAllowed, metricsAccessRefused } from '../../src/metrics/metrics-access.ts';
import { renderMetrics } from '../../src/metrics/registry.ts';
import type { ApiDependencies } from '../dependencies.ts';
import type { RouteCatalog } from '../route-spec.ts';

/** GET /metrics: the process's metrics in Prometheus text format (METRICS_TOKEN guards it when set). */
export function registerMetricsRoute(router: Router, deps: ApiDependencies, catalog: RouteCatalog): void {
  catalog.add(
    router,
    {
      method: 'get',
      path: '/metrics',
      operationId: 'metrics',
      summary: 'Prometheus metrics',
      tags: ['operations'],
      auth: 'none',
      responses: { 200: { description: 'The Prometheus text exposition format', schema: z.string(), contentType: 'text/plain' } },
    },
    async (ctx) => {
      if (!metricsAccessAllowed(ctx.get('Authorization') || undefined, deps.config.METRICS_TOKEN)) {
        throw metricsAccessRefused();
      }
      const { contentType, body } = await renderMetrics();
      ctx.set('Cache-Control', 'no-store');
      ctx.type = contentType;
      ctx.body = body;
    },
  );
}
