import type { Middleware } from 'koa';
import { asDatabaseUnavailable } from '../src/db/unavailable.ts';
import { errorResponse } from '../src/error-response.ts';
import { AppError, DatabaseUnavailableError } from '../src/errors.ts';
import type { Logger } from '../src/logger.ts';

// The one place where the API's errors become HTTP answers, shaped by src/error-response.ts: every
// error answer has the body { "error": { "code", "message" } }. Anything that is not an expected
// error is a bug: it is logged with its stack and answered 500 without details. A failure that
// means the database cannot serve right now (refused or lost connections, a restarting server, a
// pool with no free connection in time; src/db/unavailable.ts) is a 503 `service_unavailable` with
// Retry-After, logged as a warning: during an outage every request fails the same way.

export function errorMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (thrown) {
      const error = thrown instanceof AppError ? thrown : asDatabaseUnavailable(thrown);
      const { status, code, body, headers } = errorResponse(error);
      if (error instanceof DatabaseUnavailableError) {
        logger.warn({ err: error, method: ctx.method, path: ctx.path, status }, 'request failed: database unavailable');
      } else if (status >= 500) {
        logger.error({ err: error, method: ctx.method, path: ctx.path, status }, 'request failed');
      } else {
        logger.debug({ method: ctx.method, path: ctx.path, status, code }, 'request rejected');
      }
      ctx.set(headers);
      ctx.status = status;
      ctx.type = 'application/json';
      ctx.body = body;
    }
  };
}
