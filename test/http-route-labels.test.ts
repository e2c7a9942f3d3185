import { Router } from '@koa/router';
import Koa from 'koa';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { errorMiddleware } from '../api/error-middleware.ts';
import { httpMetricsMiddleware } from '../api/http-metrics-middleware.ts';
import { NotFoundError } from '../src/errors.ts';
import { registry } from '../src/metrics/registry.ts';
import { quietLogger } from './support/database.ts';
import { serve } from './support/http.ts';
import { histogramCount, parseExposition, samples } from './support/metrics.ts';

// The route label is the router's pattern, so any number of products, versions or random paths
// make a bounded number of series.

test('requests are labelled by route pattern and final status, never by raw path', async () => {
  const app = new Koa();
  app.silent = true;
  app.use(httpMetricsMiddleware());
  app.use(errorMiddleware(quietLogger));
  const router = new Router();
  router.get('/v1/releases/:product/:version', (ctx) => {
    if (ctx.params.product === 'missing') throw new NotFoundError('product');
    ctx.body = { product: ctx.params.product, version: ctx.params.version };
  });
  const v2 = new Router({ prefix: '/v2' });
  v2.get('/things/:id', (ctx) => {
    ctx.body = { id: ctx.params.id };
  });
  app.use(router.routes());
  app.use(v2.routes());
  const server = await serve(app);
  try {
    for (const path of ['/v1/releases/a/1.0.0', '/v1/releases/b/2.0.0', '/v1/releases/c/v3.1.4', '/v1/releases/missing/1.0.0', '/v2/things/42']) {
      await (await fetch(`${server.url}${path}`)).arrayBuffer();
    }
    for (let i = 0; i < 5; i += 1) await (await fetch(`${server.url}/random/${i}/path`)).arrayBuffer();

    const metrics = parseExposition(await registry.metrics());
    const name = 'release_registry_http_request_duration_seconds';
    assert.is(histogramCount(metrics, name, { route: '/v1/releases/:product/:version', status: '200', method: 'GET' }), 3);
    assert.is(histogramCount(metrics, name, { route: '/v1/releases/:product/:version', status: '404' }), 1, 'an error keeps its route');
    assert.is(histogramCount(metrics, name, { route: '/v2/things/:id', status: '200' }), 1, 'a prefixed router reports the full pattern');
    assert.is(histogramCount(metrics, name, { route: 'unmatched', status: '404' }), 5, 'unknown paths share one series');
    const routes = new Set(samples(metrics, name).map((sample) => sample.labels.route));
    assert.equal([...routes].sort(), ['/v1/releases/:product/:version', '/v2/things/:id', 'unmatched']);
    assert.is(samples(metrics, 'release_registry_http_requests_in_flight')[0]?.value, 0);
  } finally {
    await server.close();
  }
});

test.run();
