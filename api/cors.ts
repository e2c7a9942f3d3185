import type { Middleware } from 'koa';

// Browsers may read the public read API from any page: a documentation site shows the latest
// version by fetching it from the reader's browser. Reads only (GET, HEAD) of /v1/ and the OpenAPI
// document, and only as an anonymous reader: Authorization is not an allowed request header, so a
// page cannot send an internal token across origins (a token belongs to tooling, not to pages).
// The headers are sent whether or not the request names an Origin, so that a shared cache keeping
// an answer fetched without one still serves browsers correctly.

const READ_PATH = /^\/(?:v1\/|openapi\.json$)/;
const READ_METHODS = 'GET, HEAD';
/** Headers a page may read besides the CORS-safelisted ones: the validator and the next page. */
const EXPOSED_HEADERS = 'ETag, Link';
/** Request headers a page may send besides the CORS-safelisted ones: conditional reads. */
const ALLOWED_HEADERS = 'If-None-Match';
const PREFLIGHT_MAX_AGE_SECONDS = 86_400;

export function corsMiddleware(): Middleware {
  return async (ctx, next) => {
    if (!READ_PATH.test(ctx.path)) return next();
    if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method') !== '') {
      // A preflight: answered here, whatever the route, with what any read of the API allows.
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.set('Access-Control-Allow-Methods', READ_METHODS);
      ctx.set('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      ctx.set('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_SECONDS));
      ctx.status = 204;
      return;
    }
    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      ctx.set('Access-Control-Allow-Origin', '*');
      ctx.set('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    await next();
  };
}
