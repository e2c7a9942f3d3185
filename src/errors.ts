// The project's one error hierarchy. Each class carries its context in fields (never only in the
// message) and keeps `cause`. HTTP answers are derived from them in src/error-response.ts (the API's
// api/error-middleware.ts, the worker's metrics server); the job handlers map them to retry / fail /
// defer (workers/sync-worker.ts, workers/process-deliveries.ts). Anything that is not an AppError is
// a bug and is reported as an internal error without its message leaking to clients.

export type ErrorCode =
  | 'invalid_configuration'
  | 'invalid_input'
  | 'not_found'
  | 'method_not_allowed'
  | 'unauthorized'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'service_unavailable'
  | 'github_unavailable'
  | 'github_rate_limited'
  | 'github_malformed_response'
  | 'github_request_rejected'
  | 'permanent_payload_error'
  | 'sync_superseded'
  | 'repository_mismatch'
  | 'migration_failed'
  | 'data_dir_in_use';

export abstract class AppError extends Error {
  abstract readonly code: ErrorCode;
  /** HTTP status the API answers with when this error reaches a client. */
  abstract readonly status: number;
  /** Whether a job that failed with this error should be tried again. */
  readonly retryable: boolean = false;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A variable of the environment (or a file it names) is missing or malformed. */
export class ConfigError extends AppError {
  readonly code = 'invalid_configuration';
  readonly status = 500;
  readonly variable: string;

  constructor(variable: string, problem: string, options?: { cause?: unknown }) {
    super(`${variable}: ${problem}`, options);
    this.variable = variable;
  }
}

export type InputIssue = { path: string; message: string };

/** A request, argument or payload does not have the shape we accept. */
export class InvalidInputError extends AppError {
  readonly code = 'invalid_input';
  readonly status = 400;
  readonly issues: readonly InputIssue[];

  constructor(message: string, issues: readonly InputIssue[] = [], options?: { cause?: unknown }) {
    super(message, options);
    this.issues = issues;
  }
}

/**
 * A command line the command does not accept (a missing, extra or malformed argument): the CLI
 * prints the message and `usage` and exits 2, apart from the exit 1 of a command that failed.
 */
export class UsageError extends InvalidInputError {
  readonly usage: string;

  constructor(message: string, usage: string, issues: readonly InputIssue[] = [], options?: { cause?: unknown }) {
    super(message, issues, options);
    this.usage = usage;
  }
}

export class NotFoundError extends AppError {
  readonly code = 'not_found';
  readonly status = 404;
  readonly resource: string;

  constructor(resource: string, message = `${resource} not found`) {
    super(message);
    this.resource = resource;
  }
}

export class MethodNotAllowedError extends AppError {
  readonly code = 'method_not_allowed';
  readonly status = 405;
  readonly allowed: readonly string[];

  constructor(method: string, allowed: readonly string[]) {
    super(`method ${method} is not allowed here; allowed: ${allowed.join(', ')}`);
    this.allowed = allowed;
  }
}

export class UnauthorizedError extends AppError {
  readonly code = 'unauthorized';
  readonly status = 401;
  /** The WWW-Authenticate challenge a 401 answers with (RFC 9110 requires one). */
  readonly challenge: string;

  constructor(message: string, options?: { cause?: unknown; challenge?: string }) {
    super(message, options);
    this.challenge = options?.challenge ?? 'Bearer';
  }
}

export class PayloadTooLargeError extends AppError {
  readonly code = 'payload_too_large';
  readonly status = 413;
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    super(`request body is larger than ${limitBytes} bytes`);
    this.limitBytes = limitBytes;
  }
}

export class UnsupportedMediaTypeError extends AppError {
  readonly code = 'unsupported_media_type';
  readonly status = 415;
}

/** A dependency (the database, a disabled feature) cannot serve right now. */
export class ServiceUnavailableError extends AppError {
  readonly code = 'service_unavailable';
  readonly status = 503;
  override readonly retryable = true;
}

/**
 * PostgreSQL cannot be reached, is restarting, refused a connection, or no pooled connection became
 * free in time. Transient: the API answers 503 with Retry-After, a job is retried.
 */
export class DatabaseUnavailableError extends ServiceUnavailableError {
  /** Seconds a client should wait before trying again (the API's Retry-After). */
  readonly retryAfterSeconds: number;

  constructor(message = 'the database is unavailable, try again shortly', options?: { cause?: unknown; retryAfterSeconds?: number }) {
    super(message, options);
    this.retryAfterSeconds = options?.retryAfterSeconds ?? 1;
  }
}

/** GitHub answered 5xx, timed out or could not be reached. Retried with backoff. */
export class GitHubUnavailableError extends AppError {
  readonly code = 'github_unavailable';
  readonly status = 502;
  override readonly retryable = true;
  readonly httpStatus: number | undefined;

  constructor(message: string, httpStatus?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.httpStatus = httpStatus;
  }
}

/** The primary rate limit is spent: the work is deferred to `resetAt`, not failed. */
export class GitHubRateLimitedError extends AppError {
  readonly code = 'github_rate_limited';
  readonly status = 503;
  override readonly retryable = true;
  readonly resetAt: Date;

  constructor(resetAt: Date, options?: { cause?: unknown }) {
    super(`GitHub rate limit spent until ${resetAt.toISOString()}`, options);
    this.resetAt = resetAt;
  }
}

/** GitHub answered with something that does not match its documented shape. */
export class GitHubMalformedResponseError extends AppError {
  readonly code = 'github_malformed_response';
  readonly status = 502;
  override readonly retryable = true;
  readonly endpoint: string;
  readonly issues: readonly InputIssue[];

  constructor(endpoint: string, issues: readonly InputIssue[], options?: { cause?: unknown }) {
    super(
      `malformed GitHub response from ${endpoint}: ${issues
        .slice(0, 3)
        .map((issue) => `${issue.path || '(root)'} ${issue.message}`)
        .join('; ')}`,
      options,
    );
    this.endpoint = endpoint;
    this.issues = issues;
  }
}

/** GitHub does not know the repository (or object) asked for, or the token may not see it. */
export class GitHubNotFoundError extends NotFoundError {
  readonly endpoint: string;

  constructor(endpoint: string, message = `GitHub has nothing at ${endpoint}`) {
    super('GitHub resource', message);
    this.endpoint = endpoint;
  }
}

/**
 * GitHub refused a request for a reason that retrying will not fix: a query its schema rejects,
 * a forbidden resource, an unprocessable parameter. A bug or a permission problem, not an outage.
 */
export class GitHubRequestRejectedError extends AppError {
  readonly code = 'github_request_rejected';
  readonly status = 502;
  readonly endpoint: string;
  readonly httpStatus: number | undefined;

  constructor(endpoint: string, message: string, httpStatus?: number, options?: { cause?: unknown }) {
    super(`GitHub rejected ${endpoint}: ${message}`, options);
    this.endpoint = endpoint;
    this.httpStatus = httpStatus;
  }
}

/** A stored payload can never be processed (retrying will not help). */
export class PermanentPayloadError extends AppError {
  readonly code = 'permanent_payload_error';
  readonly status = 422;
}

/**
 * GitHub's repository under the name a product was read by is not the product's (that name was
 * given up and taken by another repository): nothing of it is written. Retrying reads the same.
 */
export class RepositoryMismatchError extends AppError {
  readonly code = 'repository_mismatch';
  readonly status = 409;
}

/**
 * A sync run's progress could not be saved because another job owns the product's run by now
 * (this job's claim lapsed and pg-boss handed the run on). The job stops without writing.
 */
export class SyncSupersededError extends AppError {
  readonly code = 'sync_superseded';
  readonly status = 409;
  readonly productId: number;
  readonly owner: string;

  constructor(productId: number, owner: string) {
    super(`the sync run of product ${productId} is no longer owned by job ${owner}`);
    this.productId = productId;
    this.owner = owner;
  }
}

export class MigrationError extends AppError {
  readonly code = 'migration_failed';
  readonly status = 500;
  readonly migration: string;

  constructor(migration: string, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? options.cause.message : String(options?.cause);
    super(`migration ${migration} failed: ${reason}`, options);
    this.migration = migration;
  }
}

/**
 * The embedded PostgreSQL in DATA_DIR belongs to another running process (a second `start` on the
 * same data directory). Adopting it would hand that process's database to this one's shutdown.
 */
export class DataDirInUseError extends AppError {
  readonly code = 'data_dir_in_use';
  readonly status = 409;
  readonly dir: string;
  /** The release-registry process that owns the server, when one is recorded. */
  readonly ownerPid: number | undefined;

  constructor(dir: string, problem: string, ownerPid?: number) {
    super(`DATA_DIR ${dir} ${problem}; stop it or set DATA_DIR`);
    this.dir = dir;
    this.ownerPid = ownerPid;
  }
}

/** Turns zod issues into the project's `InputIssue` list. */
export function issuesFromZod(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): InputIssue[] {
  return issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}
