import { Counter, Gauge, Histogram } from 'prom-client';
import type { SyncOutcome } from '../db/sync-state.ts';
import { registry } from './registry.ts';

// Every metric of the project, defined here and nowhere else, with a typed helper for each thing
// the code reports. Conventions (https://prometheus.io/docs/practices/naming/): the prefix
// `release_registry_`, base units in the name (`_seconds`, `_bytes`), `_total` on counters. Label
// values come only from closed sets (route patterns, the outcome lists below, pool and queue
// names, product names from the products file, GitHub's rate-limit resources), never from request
// data, so the number of series stays bounded. docs/operations.md lists these metrics with the
// alerts built on them; keep the two in step.

const PREFIX = 'release_registry_';
const registers = [registry];

// ---------------------------------------------------------------------------------------------
// Outcome lists. Every value is exported from the start at 0, so `rate()` and alerts see a series
// before the first event.

/** What the webhook intake (POST /webhooks/github) answered. */
export const WEBHOOK_DELIVERY_OUTCOMES = [
  /** Stored and its processing job enqueued: 202. */
  'accepted',
  /** A delivery id already stored: 200, not processed again. */
  'duplicate',
  /** Stored as ignored (untracked repository, event we do not handle): 202. */
  'ignored',
  /** GitHub's ping: 200. */
  'ping',
  /** Missing or wrong signature: 401. */
  'unauthorized',
  /** Missing headers or unparseable body: 400 (or 415). */
  'invalid',
  /** Body over GitHub's 25 MB cap: 413. */
  'too_large',
  /** GITHUB_WEBHOOK_SECRET unset: 503. */
  'disabled',
  /** The database was unavailable, nothing stored: 503 (GitHub does not retry by itself). */
  'unavailable',
  /** Anything else that was not stored: 500. */
  'error',
] as const;
export type WebhookDeliveryOutcome = (typeof WEBHOOK_DELIVERY_OUTCOMES)[number];

/** What the worker did with a stored delivery. */
export const DELIVERY_PROCESSING_OUTCOMES = ['processed', 'ignored', 'retried', 'failed'] as const;
export type DeliveryProcessingOutcome = (typeof DELIVERY_PROCESSING_OUTCOMES)[number];

/** Result of one job handler run. `deferred`: rescheduled (e.g. to a rate-limit reset), not failed. */
export const JOB_OUTCOMES = ['completed', 'failed', 'deferred'] as const;
export type JobOutcome = (typeof JOB_OUTCOMES)[number];

/** pg-boss job states as exported by `release_registry_jobs` (queued = ready + deferred + blocked). */
export const JOB_STATES = ['ready', 'deferred', 'blocked', 'active', 'failed'] as const;
export type JobState = (typeof JOB_STATES)[number];

/** Why a query failed, for `release_registry_db_query_errors_total`. */
export const QUERY_ERROR_KINDS = ['unavailable', 'statement_timeout', 'lock_timeout', 'deadlock', 'serialization', 'other'] as const;
export type QueryErrorKind = (typeof QUERY_ERROR_KINDS)[number];

export type ProcessRole = 'api' | 'worker';

// ---------------------------------------------------------------------------------------------
// Scrape-time values. Gauges that mirror something outside the process (pools, pg-boss's job
// counts, the server's lock waits) are filled by hooks when /metrics is rendered. prom-client
// collects all metrics concurrently, so one shared refresh serves every gauge of a scrape.

type ScrapeHook = () => void | Promise<void>;
const scrapeHooks = new Set<ScrapeHook>();
let refreshing: Promise<void> | undefined;

/** Runs `hook` at every scrape, before the gauges are read. Returns its removal. */
export function onScrape(hook: ScrapeHook): () => void {
  scrapeHooks.add(hook);
  return () => scrapeHooks.delete(hook);
}

function refreshOnScrape(): Promise<void> {
  refreshing ??= Promise.all(
    [...scrapeHooks].map(async (hook) => {
      try {
        await hook();
      } catch {
        // A hook reports its own failure (release_registry_metrics_collector_up); a scrape never fails.
      }
    }),
  )
    .then(() => undefined)
    .finally(() => {
      refreshing = undefined;
    });
  return refreshing;
}

// ---------------------------------------------------------------------------------------------
// HTTP (API process)

const HTTP_DURATION_BUCKETS = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const httpRequestDuration = new Histogram({
  name: `${PREFIX}http_request_duration_seconds`,
  help: 'Time from receiving an HTTP request to its response being ready, by method, route pattern and status.',
  labelNames: ['method', 'route', 'status'] as const,
  buckets: HTTP_DURATION_BUCKETS,
  registers,
});

export const httpRequestsInFlight = new Gauge({
  name: `${PREFIX}http_requests_in_flight`,
  help: 'HTTP requests being handled right now.',
  registers,
});

const HTTP_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The route label of a request that matched no route. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * Counts a request in flight; the returned function records its duration under the route
 * *pattern* (e.g. `/v1/releases/:product`, never the raw path) and status.
 */
export function startHttpRequest(): (method: string, route: string | undefined, status: number) => void {
  const started = process.hrtime.bigint();
  httpRequestsInFlight.inc();
  return (method, route, status) => {
    httpRequestsInFlight.dec();
    httpRequestDuration.observe(
      { method: HTTP_METHODS.has(method) ? method : 'other', route: route ?? UNMATCHED_ROUTE, status: String(status) },
      Number(process.hrtime.bigint() - started) / 1e9,
    );
  };
}

// ---------------------------------------------------------------------------------------------
// Webhooks and ingestion

export const webhookDeliveries = new Counter({
  name: `${PREFIX}webhook_deliveries_total`,
  help: 'Webhook deliveries received by the API, by what it answered (see WEBHOOK_DELIVERY_OUTCOMES).',
  labelNames: ['outcome'] as const,
  registers,
});

export const deliveryProcessing = new Counter({
  name: `${PREFIX}webhook_processing_total`,
  help: 'Stored webhook deliveries handled by the worker, by outcome (processed, ignored, retried, failed).',
  labelNames: ['outcome'] as const,
  registers,
});

export const deliveriesDeleted = new Counter({
  name: `${PREFIX}webhook_deliveries_deleted_total`,
  help: 'Processed and ignored webhook deliveries deleted after WEBHOOK_RETENTION_DAYS.',
  registers,
});

export const ingestLag = new Histogram({
  name: `${PREFIX}ingest_lag_seconds`,
  help: 'Time from a webhook delivery being received to its release change being committed (visible to readers).',
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
  registers,
});

for (const outcome of WEBHOOK_DELIVERY_OUTCOMES) webhookDeliveries.inc({ outcome }, 0);
for (const outcome of DELIVERY_PROCESSING_OUTCOMES) deliveryProcessing.inc({ outcome }, 0);

/** The API answered a webhook delivery. */
export function recordWebhookDelivery(outcome: WebhookDeliveryOutcome): void {
  webhookDeliveries.inc({ outcome });
}

/** The worker finished handling a stored delivery. */
export function recordDeliveryProcessing(outcome: DeliveryProcessingOutcome): void {
  deliveryProcessing.inc({ outcome });
}

/** A delivery's change became visible `seconds` after the delivery was received (its received_at). */
export function observeIngestLag(seconds: number): void {
  ingestLag.observe(Math.max(0, seconds));
}

// ---------------------------------------------------------------------------------------------
// Sync and GitHub

export const syncDuration = new Histogram({
  name: `${PREFIX}sync_duration_seconds`,
  help: 'Duration of sync runs, by product and result (succeeded, failed, deferred).',
  labelNames: ['product', 'result'] as const,
  buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800],
  registers,
});

export const syncLastSuccess = new Gauge({
  name: `${PREFIX}sync_last_success_timestamp_seconds`,
  help: 'Unix time of the last successful sync of a product (set by the worker that ran it).',
  labelNames: ['product'] as const,
  registers,
});

/** A sync run of `product` ended with `result` after `seconds`. */
export function observeSync(product: string, result: SyncOutcome, seconds: number): void {
  syncDuration.observe({ product, result }, Math.max(0, seconds));
  if (result === 'succeeded') syncLastSuccess.set({ product }, Date.now() / 1000);
}

export const githubRateLimitRemaining = new Gauge({
  name: `${PREFIX}github_rate_limit_remaining`,
  help: 'Requests left in the current GitHub rate-limit window, by resource (x-ratelimit-resource: core, graphql, ...).',
  labelNames: ['resource'] as const,
  registers,
});

export const githubRateLimitLimit = new Gauge({
  name: `${PREFIX}github_rate_limit_limit`,
  help: 'Size of the GitHub rate-limit window, by resource.',
  labelNames: ['resource'] as const,
  registers,
});

export const githubRateLimitReset = new Gauge({
  name: `${PREFIX}github_rate_limit_reset_timestamp_seconds`,
  help: 'Unix time at which the GitHub rate-limit window of a resource resets.',
  labelNames: ['resource'] as const,
  registers,
});

export const githubRequests = new Counter({
  name: `${PREFIX}github_requests_total`,
  help: 'Requests made to GitHub, by API (rest, graphql) and status class (2xx, 304, 4xx, 403, 429, 5xx, error).',
  labelNames: ['api', 'status'] as const,
  registers,
});

/**
 * What GitHub's x-ratelimit-* headers said: `reset` is x-ratelimit-reset (Unix seconds) or a Date.
 * https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
 */
export function setGitHubRateLimit(resource: string, remaining: number, limit: number, reset: number | Date): void {
  githubRateLimitRemaining.set({ resource }, remaining);
  githubRateLimitLimit.set({ resource }, limit);
  githubRateLimitReset.set({ resource }, reset instanceof Date ? reset.getTime() / 1000 : reset);
}

/** One request to GitHub ended with an HTTP `status`, or with no answer (`'error'`). */
export function recordGitHubRequest(api: 'rest' | 'graphql', status: number | 'error'): void {
  githubRequests.inc({ api, status: statusClass(status) });
}

function statusClass(status: number | 'error'): string {
  // 304 costs no rate limit, 403 and 429 are GitHub's rate-limit answers: each gets its own series.
  if (status === 'error') return 'error';
  if (status === 304 || status === 403 || status === 429) return String(status);
  return `${Math.floor(status / 100)}xx`;
}

export const deliveriesAwaitingJobGauge = new Gauge({
  name: `${PREFIX}webhook_deliveries_awaiting_job`,
  help: "Stored webhook deliveries the worker's enqueuer has not given a job yet, read at scrape.",
  collect: refreshOnScrape,
  registers,
});

export const oldestDeliveryAwaitingJob = new Gauge({
  name: `${PREFIX}webhook_oldest_awaiting_job_seconds`,
  help: 'How long the oldest stored delivery without a job has waited since it was received (0 when none), read at scrape.',
  collect: refreshOnScrape,
  registers,
});

// ---------------------------------------------------------------------------------------------
// Jobs (pg-boss)

export const jobs = new Gauge({
  name: `${PREFIX}jobs`,
  help: "Jobs per queue and state, as counted by pg-boss's last monitor pass (at most its monitor interval old).",
  labelNames: ['queue', 'state'] as const,
  collect: refreshOnScrape,
  registers,
});

export const jobDuration = new Histogram({
  name: `${PREFIX}job_duration_seconds`,
  help: 'Duration of job handler runs, by queue and outcome (completed, failed, deferred).',
  labelNames: ['queue', 'outcome'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800],
  registers,
});

/** A job handler on `queue` ended with `outcome` after `seconds`. */
export function observeJob(queue: string, outcome: JobOutcome, seconds: number): void {
  jobDuration.observe({ queue, outcome }, Math.max(0, seconds));
}

// ---------------------------------------------------------------------------------------------
// Database

export const poolConnections = new Gauge({
  name: `${PREFIX}db_pool_connections`,
  help: 'Connections of each database pool of this process, by state (in_use, idle, pending = being opened).',
  labelNames: ['pool', 'state'] as const,
  collect: refreshOnScrape,
  registers,
});

export const poolWaiting = new Gauge({
  name: `${PREFIX}db_pool_waiting`,
  help: 'Callers waiting for a connection of each database pool of this process.',
  labelNames: ['pool'] as const,
  collect: refreshOnScrape,
  registers,
});

export const poolMaxConnections = new Gauge({
  name: `${PREFIX}db_pool_max_connections`,
  help: 'Configured size of each database pool of this process.',
  labelNames: ['pool'] as const,
  collect: refreshOnScrape,
  registers,
});

export const poolAcquireDuration = new Histogram({
  name: `${PREFIX}db_pool_acquire_seconds`,
  help: 'Time callers waited for a free connection slot of a pool (our pools; pg-boss does not report it).',
  labelNames: ['pool'] as const,
  buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers,
});

export const poolAcquireTimeouts = new Counter({
  name: `${PREFIX}db_pool_acquire_timeouts_total`,
  help: 'Callers refused because no connection slot of the pool became free in time (answered 503).',
  labelNames: ['pool'] as const,
  registers,
});

export const queryDuration = new Histogram({
  name: `${PREFIX}db_query_duration_seconds`,
  help: 'Duration of successful queries on our pools (including any wait for locks), by pool.',
  labelNames: ['pool'] as const,
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers,
});

export const queryErrors = new Counter({
  name: `${PREFIX}db_query_errors_total`,
  help: 'Failed queries on our pools, by pool and kind (unavailable, statement_timeout, lock_timeout, deadlock, serialization, other).',
  labelNames: ['pool', 'kind'] as const,
  registers,
});

export const lockWaitingSessions = new Gauge({
  name: `${PREFIX}db_lock_waiting_sessions`,
  help: "Sessions of each of our applications (application_name) waiting for a lock now, sampled from pg_locks at scrape.",
  labelNames: ['application'] as const,
  collect: refreshOnScrape,
  registers,
});

export const lockWaitLongest = new Gauge({
  name: `${PREFIX}db_lock_wait_longest_seconds`,
  help: 'How long the longest current lock wait of each of our applications has lasted (pg_locks.waitstart), sampled at scrape.',
  labelNames: ['application'] as const,
  collect: refreshOnScrape,
  registers,
});

export const serverConnections = new Gauge({
  name: `${PREFIX}db_server_connections`,
  help: "Client connections open on the PostgreSQL server, by application_name (ours by name, everything else as 'other').",
  labelNames: ['application'] as const,
  collect: refreshOnScrape,
  registers,
});

export const serverMaxConnections = new Gauge({
  name: `${PREFIX}db_server_max_connections`,
  help: "The PostgreSQL server's max_connections.",
  collect: refreshOnScrape,
  registers,
});

export const collectorUp = new Gauge({
  name: `${PREFIX}metrics_collector_up`,
  help: 'Whether the last scrape-time read of a collector (jobs, database_activity, webhook_backlog) succeeded (1) or failed or timed out (0).',
  labelNames: ['collector'] as const,
  collect: refreshOnScrape,
  registers,
});

/** Exports every series of a pool at 0, so alerts on their rates have something to read at once. */
export function initPoolSeries(pool: string): void {
  for (const kind of QUERY_ERROR_KINDS) queryErrors.inc({ pool, kind }, 0);
  poolAcquireTimeouts.inc({ pool }, 0);
}

export function observeQuery(pool: string, seconds: number): void {
  queryDuration.observe({ pool }, seconds);
}

export function recordQueryError(pool: string, kind: QueryErrorKind): void {
  queryErrors.inc({ pool, kind });
}

export function observePoolAcquire(pool: string, seconds: number): void {
  poolAcquireDuration.observe({ pool }, seconds);
}

export function recordPoolAcquireTimeout(pool: string): void {
  poolAcquireTimeouts.inc({ pool });
}

// ---------------------------------------------------------------------------------------------
// Process

export const buildInfo = new Gauge({
  name: `${PREFIX}build_info`,
  help: 'Always 1; the labels say which version and commit this process runs.',
  labelNames: ['version', 'git_sha'] as const,
  registers,
});

export const startToReady = new Gauge({
  name: `${PREFIX}start_to_ready_seconds`,
  help: 'Time from process start to serving (API: listening; worker: working its queues), by role.',
  labelNames: ['role'] as const,
  registers,
});

export function setBuildInfo(version: string, gitSha: string | null): void {
  buildInfo.reset();
  buildInfo.set({ version, git_sha: gitSha ?? 'unknown' }, 1);
}

/** The process is serving as `role`; records how long it took since the process started. */
export function markReady(role: ProcessRole): number {
  const seconds = process.uptime();
  startToReady.set({ role }, seconds);
  return seconds;
}
