import { validate as isValidCron } from 'node-cron';
import { z } from 'zod';
import { BEARER_TOKEN } from './bearer-token.ts';
import { ConfigError } from './errors.ts';
import { redactUrl } from './logger.ts';

// Every setting the processes read from the environment, parsed once here. Nothing else in the
// code base reads process.env: a missing or malformed value stops the process at start with one
// line that names the variable (see src/cli.ts), instead of surfacing later as NaN or undefined.

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

// Blank is unset, as for the other optional variables: a `PORT=` line in an env file or a
// platform's emptied setting means the default, not a malformed port.
const port = (fallback: number) =>
  optionalText
    .transform((value) => value ?? String(fallback))
    .pipe(z.string().regex(/^\d{1,5}$/, 'expected an integer from 0 to 65535'))
    .transform(Number)
    .pipe(z.number().max(65535, 'expected an integer from 0 to 65535'));

const wholeNumber = (max: number) =>
  z
    .string()
    .regex(/^\d+$/, `expected a whole number from 1 to ${max}`)
    .transform(Number)
    .pipe(z.number().min(1, `expected a whole number from 1 to ${max}`).max(max, `expected a whole number from 1 to ${max}`));

const positiveInt = (fallback: number, max: number) => z.string().trim().default(String(fallback)).pipe(wholeNumber(max));

/**
 * Why a URL cannot be a base that paths are appended to, or null. Octokit appends each route to
 * the base as text, so a query or fragment would end up before the route (`/?x=1/repos/…`), and
 * credentials in it would be in every request URL that Octokit and our logs print.
 */
function apiBaseUrlProblem(value: string): string | null {
  const url = new URL(value);
  if (url.username !== '' || url.password !== '') return 'must not contain credentials (user:password@): set GITHUB_TOKEN instead';
  // Checked on the text: the URL parser drops an empty `?` or `#`, which Octokit would still keep.
  if (value.includes('?')) return 'must not contain a query (?…): give the API base URL only';
  if (value.includes('#')) return 'must not contain a fragment (#…): give the API base URL only';
  return null;
}

const apiBaseUrl = (fallback: string) =>
  z
    .string()
    .trim()
    .default(fallback)
    .pipe(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }))
    .check((ctx) => {
      if (!URL.canParse(ctx.value)) return;
      const problem = apiBaseUrlProblem(ctx.value);
      if (problem !== null) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
    })
    .transform((value) => value.replace(/\/+$/, ''));

/** The sslmode values every client of the database reads alike (Slonik's parser takes no others). */
const SSL_MODES = ['disable', 'require', 'no-verify'];

/**
 * Why the query of a database URL would be read differently by Slonik's pool and by node-postgres
 * (pg-boss, migrate, LISTEN), or null. Slonik's parseDsn ignores `ssl`, so `?ssl=true` would leave
 * the pool's queries unencrypted while the other clients use TLS; of a repeated parameter both
 * clients take the last value, so checking one value alone could pass what a client then rejects.
 */
function databaseUrlQueryProblem(value: string): string | null {
  const params = new URL(value).searchParams;
  if (params.has('ssl')) return 'the ssl parameter is not supported: use sslmode=disable, require or no-verify';
  const names = [...params.keys()];
  const repeated = names.find((name, index) => names.indexOf(name) !== index);
  if (repeated !== undefined) return `query parameter ${JSON.stringify(repeated)} is given more than once`;
  const mode = params.get('sslmode');
  if (mode !== null && !SSL_MODES.includes(mode)) {
    return 'sslmode must be disable, require (TLS verifying the server certificate against the system CAs; NODE_EXTRA_CA_CERTS=<file> adds a private one) or no-verify (TLS without verifying, as Heroku Postgres needs)';
  }
  return null;
}

const postgresUrl = z
  .string()
  .trim()
  .pipe(z.url({ protocol: /^postgres(ql)?$/, error: 'expected a postgres:// URL' }))
  .check((ctx) => {
    // Checks run after a failed one too: a value that is no URL has its issue already.
    if (!URL.canParse(ctx.value)) return;
    const problem = databaseUrlQueryProblem(ctx.value);
    if (problem !== null) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  });

const TOKEN_CHARACTERS = 'visible ASCII characters (no spaces)';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const configSchema = z.object({
  DATABASE_URL: optionalText.pipe(postgresUrl.optional()),
  PORT: port(8080),
  METRICS_PORT: port(9464),
  GITHUB_API_URL: apiBaseUrl('https://api.github.com'),
  GITHUB_TOKEN: optionalText,
  GITHUB_WEBHOOK_SECRET: optionalText,
  PRODUCTS_FILE: z.string().trim().min(1, 'must not be empty').default('products.example.json'),
  SYNC_SCHEDULE: z
    .string()
    .trim()
    .default('*/15 * * * *')
    .refine((value) => isValidCron(value), 'expected a cron expression such as "*/15 * * * *"'),
  API_TOKENS: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((token) => token.trim()).filter((token) => token !== ''))
    .pipe(
      z.array(
        z
          .string()
          .min(16, 'each token must be at least 16 characters')
          .regex(BEARER_TOKEN, `each token may contain only ${TOKEN_CHARACTERS}; tokens are comma-separated`),
      ),
    ),
  LOG_LEVEL: z.string().trim().toLowerCase().default('info').pipe(z.enum(LOG_LEVELS, { error: `expected one of ${LOG_LEVELS.join(', ')}` })),
  DATABASE_POOL_SIZE: positiveInt(10, 200),
  /** pg-boss's own pool per process; unset: 4 in the API, max(4, WORKER_CONCURRENCY + 2) in the worker. */
  JOBS_POOL_SIZE: optionalText.pipe(wholeNumber(200).optional()),
  WORKER_CONCURRENCY: positiveInt(4, 64),
  DATA_DIR: z.string().trim().min(1, 'must not be blank (unset, it is .data)').default('.data'),
  SHUTDOWN_TIMEOUT_MS: positiveInt(10_000, 600_000),
  /**
   * Whether a starting worker enqueues a first sync of every product never synced successfully,
   * instead of leaving it empty until the next SYNC_SCHEDULE tick.
   */
  SYNC_ON_START: z
    .string()
    .trim()
    .toLowerCase()
    .default('true')
    .pipe(z.enum(['true', 'false'], { error: 'expected true or false' }))
    .transform((value) => value === 'true'),
  /**
   * Days a processed or ignored webhook delivery is kept (its payload is kilobytes, and its
   * release changes are in the releases themselves); failed and unfinished ones are kept until
   * they are worked. 0 keeps every delivery.
   */
  WEBHOOK_RETENTION_DAYS: z
    .string()
    .trim()
    .default('30')
    .pipe(z.string().regex(/^\d{1,4}$/, 'expected a whole number of days from 0 (keep every delivery) to 3650'))
    .transform(Number)
    .pipe(z.number().max(3650, 'expected a whole number of days from 0 (keep every delivery) to 3650')),
  /** When set, GET /metrics (API and worker) requires `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: optionalText.pipe(
    z.string().min(16, 'must be at least 16 characters').regex(BEARER_TOKEN, `the token may contain only ${TOKEN_CHARACTERS}`).optional(),
  ),
  /** The commit the build was made from (Dockerfile build argument GIT_SHA); else `git rev-parse`. */
  GIT_SHA: optionalText.pipe(z.string().regex(/^[0-9a-f]{7,40}$/i, 'expected a git commit sha (7 to 40 hex digits)').optional()),
});

export type Config = z.infer<typeof configSchema>;

/**
 * Parses the environment. Throws a ConfigError naming the first bad variable; `src/cli.ts` turns it
 * into one line on stderr and exit code 1.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = configSchema.safeParse(env);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const variable = String(issue.path[0] ?? 'environment');
  const raw = env[variable];
  const shown = raw === undefined ? 'it is not set' : `got ${JSON.stringify(isSecret(variable) ? '***' : redactUrl(raw))}`;
  throw new ConfigError(variable, `${issue.message} (${shown})`);
}

function isSecret(variable: string): boolean {
  return /TOKEN|SECRET|PASSWORD/.test(variable);
}

/** The database URL, or a ConfigError for commands that cannot fall back to an embedded server. */
export function requireDatabaseUrl(config: Config): string {
  if (config.DATABASE_URL === undefined) {
    throw new ConfigError('DATABASE_URL', 'required by this command (only `start` runs an embedded PostgreSQL when it is unset)');
  }
  return config.DATABASE_URL;
}
