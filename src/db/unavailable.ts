import { BackendTerminatedError, BackendTerminatedUnexpectedlyError, ConnectionError, StatementTimeoutError } from 'slonik';
import { DatabaseUnavailableError } from '../errors.ts';

// Which failures mean "the database cannot serve right now" (answer 503, retry the job) rather than
// "this query is wrong" (a bug, 500). Errors arrive from three layers: Slonik's own classes, raw
// node-postgres errors carrying a SQLSTATE (pg-boss uses node-postgres directly), and Node's socket
// errors, often wrapped in `cause` or in an AggregateError (a host name that resolves to IPv4 and
// IPv6 yields one error per address).

/**
 * SQLSTATE classes and codes of an unavailable server: 08 connection exception (but 08P01, a
 * protocol violation: a message the server refused, such as a statement with more than 65,535
 * parameters, is our bug), 53 insufficient resources (too many connections, out of memory or
 * disk), 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now (starting up or
 * shutting down), 57014 query cancelled (our statement_timeout).
 * https://www.postgresql.org/docs/current/errcodes-appendix.html
 */
const UNAVAILABLE_SQLSTATE = /^(?:08(?!P01)[0-9A-Z]{3}|53[0-9A-Z]{3}|57P0[123]|57014)$/;

const UNAVAILABLE_ERRNO = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

// node-postgres reports lost or refused connections by message only.
const UNAVAILABLE_MESSAGE =
  /connection terminated|timeout exceeded when trying to connect|connection timeout|not queryable|connection pool (?:is being|has been) (?:shut down|terminated)|pool has ended/i;

export function isDatabaseUnavailable(error: unknown, depth = 0): boolean {
  if (depth > 5 || error === null || typeof error !== 'object') return false;
  if (error instanceof DatabaseUnavailableError) return true;
  if (
    error instanceof ConnectionError ||
    error instanceof BackendTerminatedError ||
    error instanceof BackendTerminatedUnexpectedlyError ||
    error instanceof StatementTimeoutError
  ) {
    return true;
  }
  const candidate = error as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof candidate.code === 'string' && (UNAVAILABLE_SQLSTATE.test(candidate.code) || UNAVAILABLE_ERRNO.has(candidate.code))) return true;
  if (typeof candidate.message === 'string' && UNAVAILABLE_MESSAGE.test(candidate.message)) return true;
  if (Array.isArray(candidate.errors) && candidate.errors.some((inner) => isDatabaseUnavailable(inner, depth + 1))) return true;
  return isDatabaseUnavailable(candidate.cause, depth + 1);
}

/** The error as a DatabaseUnavailableError when it means the database is unavailable, else unchanged. */
export function asDatabaseUnavailable(error: unknown): unknown {
  if (error instanceof DatabaseUnavailableError || !isDatabaseUnavailable(error)) return error;
  return new DatabaseUnavailableError(undefined, { cause: error });
}

/** The SQLSTATE of a PostgreSQL error, wherever in the `cause` chain a layer wrapped it. */
export function sqlStateOf(error: unknown, depth = 0): string | undefined {
  if (depth > 5 || error === null || typeof error !== 'object') return undefined;
  const { code, cause } = error as { code?: unknown; cause?: unknown };
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : sqlStateOf(cause, depth + 1);
}

/**
 * SQLSTATEs a server answers a connection with when it will never accept it as configured: 3D000
 * the database does not exist, 28000 / 28P01 no pg_hba.conf entry or authentication failed.
 */
const CONNECTION_REFUSED_SQLSTATE = new Set(['3D000', '28000', '28P01']);

/**
 * Whether a failure means no connection to the database could be had (unreachable, unavailable,
 * refused as configured), as opposed to a statement that failed on a connection: a statement
 * timeout (57014) counts as unavailable for retrying but says nothing about reaching the server.
 */
export function isDatabaseConnectionFailure(error: unknown): boolean {
  const state = sqlStateOf(error);
  if (state !== undefined && CONNECTION_REFUSED_SQLSTATE.has(state)) return true;
  return state !== '57014' && isDatabaseUnavailable(error);
}

/** What went wrong, from the innermost error: the layers above only rename it ("connection error"). */
export function connectionFailureReason(error: unknown, depth = 0): string {
  if (error === null || typeof error !== 'object') return String(error);
  const { message, cause, errors } = error as { message?: unknown; cause?: unknown; errors?: unknown };
  if (depth < 5 && cause !== null && typeof cause === 'object') return connectionFailureReason(cause, depth + 1);
  // An AggregateError (one connect attempt per address of a host name) has an empty message.
  if (depth < 5 && Array.isArray(errors) && errors.length > 0) {
    return [...new Set(errors.map((inner: unknown) => connectionFailureReason(inner, depth + 1)))].join('; ');
  }
  return typeof message === 'string' && message !== '' ? message : String(error);
}
