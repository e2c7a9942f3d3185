import type { Middleware } from 'koa';
import { asDatabaseUnavailable } from '../src/db/unavailable.ts';
import { AppError, DatabaseUnavailableError, InvalidInputError, MethodNotAllowedError, UnauthorizedError } from '../src/errors.ts';
import type { Logger } from '../src/logger.ts';

// The one place where errors become HTTP answers. Every error answer has the body
// { "error": { "code", "message" } }. Messages of expected errors (AppError, and Koa's own
// exposed 4xx errors such as a malformed URL) are shown; anything else is a bug: it is logged
// with its stack and answered 500 without details. A failure that means the database cannot serve
// right now (refused or lost connections, a restarting server, a pool with no free connection in
// time; src/db/unavailable.ts) is a 503 `service_unavailable` with Retry-After, logged as a warning:
// during an outage every request fails the same way.

const CODES_BY_STATUS: Record<number, string> = {
  400: 'invalid_input',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  406: 'not_acceptable',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  501: 'not_implemented',
  503: 'service_unavailable',
};

export function errorMiddleware(logger: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (thrown) {
      const error = thrown instanceof AppError ? thrown : asDatabaseUnavailable(thrown);
      const { status, code, message, details } = describe(error);
      if (error instanceof DatabaseUnavailableError) {
        ctx.set('Retry-After', String(error.retryAfterSeconds));
        logger.warn({ err: error, method: ctx.method, path: ctx.path, status }, 'request failed: database unavailable');
      } else if (status >= 500) {
        logger.error({ err: error, method: ctx.method, path: ctx.path, status }, 'request failed');
      } else {
        logger.debug({ method: ctx.method, path: ctx.path, status, code }, 'request rejected');
      }
      if (error instanceof MethodNotAllowedError) ctx.set('Allow', error.allowed.join(', '));
      if (error instanceof UnauthorizedError && !ctx.response.get('WWW-Authenticate')) ctx.set('WWW-Authenticate', 'Bearer');
      ctx.status = status;
      ctx.type = 'application/json';
      ctx.body = { error: { code, message, ...details } };
    }
  };
}

function describe(error: unknown): { status: number; code: string; message: string; details?: Record<string, unknown> } {
  if (error instanceof AppError) {
    const details = error instanceof InvalidInputError && error.issues.length > 0 ? { issues: error.issues } : undefined;
    return { status: error.status, code: error.code, message: error.message, ...(details ? { details } : {}) };
  }
  const candidate = error as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
  const status = typeof candidate.status === 'number' ? candidate.status : typeof candidate.statusCode === 'number' ? candidate.statusCode : 500;
  if (status >= 400 && status < 500 && candidate.expose === true) {
    return { status, code: CODES_BY_STATUS[status] ?? 'invalid_request', message: String(candidate.message) };
  }
  if (status === 503) return { status, code: 'service_unavailable', message: 'service unavailable, try again shortly' };
  return { status: 500, code: 'internal_error', message: 'internal error' };
}
