import { AppError, DatabaseUnavailableError, InvalidInputError, MethodNotAllowedError, UnauthorizedError } from './errors.ts';

// How an error becomes an HTTP answer, shared by the API (api/error-middleware.ts) and the
// worker's metrics server so that both answer { "error": { "code", "message" } }, with the same
// headers, alike. Messages
// of expected errors (AppError, and exposed 4xx errors of HTTP libraries such as Koa's) are shown;
// anything else is a bug, answered 500 without details.

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

export type ErrorBody = { error: { code: string; message: string; issues?: InvalidInputError['issues'] } };

/** `headers`: what the answer must carry besides the body (Allow on a 405, WWW-Authenticate on a 401, Retry-After on a 503 of a database away). */
export type ErrorResponse = { status: number; code: string; body: ErrorBody; headers: Record<string, string> };

export function errorResponse(error: unknown): ErrorResponse {
  const { status, code, message, issues } = describe(error);
  return { status, code, body: { error: { code, message, ...(issues === undefined ? {} : { issues }) } }, headers: headersOf(error) };
}

function headersOf(error: unknown): Record<string, string> {
  if (error instanceof MethodNotAllowedError) return { Allow: error.allowed.join(', ') };
  if (error instanceof UnauthorizedError) return { 'WWW-Authenticate': error.challenge };
  if (error instanceof DatabaseUnavailableError) return { 'Retry-After': String(error.retryAfterSeconds) };
  return {};
}

function describe(error: unknown): { status: number; code: string; message: string; issues?: InvalidInputError['issues'] } {
  if (error instanceof AppError) {
    const issues = error instanceof InvalidInputError && error.issues.length > 0 ? error.issues : undefined;
    return { status: error.status, code: error.code, message: error.message, ...(issues === undefined ? {} : { issues }) };
  }
  const candidate = error as { status?: unknown; statusCode?: unknown; expose?: unknown; message?: unknown };
  const status = typeof candidate.status === 'number' ? candidate.status : typeof candidate.statusCode === 'number' ? candidate.statusCode : 500;
  if (status >= 400 && status < 500 && candidate.expose === true) {
    return { status, code: CODES_BY_STATUS[status] ?? 'invalid_request', message: String(candidate.message) };
  }
  if (status === 503) return { status, code: 'service_unavailable', message: 'service unavailable, try again shortly' };
  return { status: 500, code: 'internal_error', message: 'internal error' };
}
