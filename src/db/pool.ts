import { QueryToken } from '@slonik/sql-tag';
import {
  ConnectionError,
  createPool,
  SchemaValidationError,
  type CommonQueryMethods,
  type DatabasePool,
  type Interceptor,
  type QuerySqlToken,
} from 'slonik';
import { z } from 'zod';
import type { Logger } from '../logger.ts';
import { initPoolSeries, observeQuery, recordQueryError, type QueryErrorKind } from '../metrics/metrics.ts';
import { trackPool } from '../metrics/pool-metrics.ts';
import { ConnectionGate } from './connection-gate.ts';
import { isDatabaseUnavailable, sqlStateOf } from './unavailable.ts';

export type Database = DatabasePool;
/** A pool, a connection or a transaction: anything that runs queries. */
export type Queryable = CommonQueryMethods;

export type PoolOptions = {
  logger: Logger;
  maximumPoolSize: number;
  applicationName: string;
  /** Fail fast instead of queueing forever when the server is down (see the fault suite). */
  connectionTimeoutMs?: number;
  /** How long a caller may wait for a free connection when all are busy (src/db/connection-gate.ts). */
  acquireTimeoutMs?: number;
  statementTimeoutMs?: number;
};

/** The `pool` label of a pool's metrics: its application_name without the project prefix. */
export function poolLabel(applicationName: string): string {
  return applicationName.replace(/^release-registry-/, '');
}

/**
 * Every query carries its row schema (`sql.type(schema)`); Slonik hands it to interceptors but does
 * not apply it, so this interceptor does: a row that does not match fails the query with Slonik's
 * SchemaValidationError instead of leaking a wrong shape into the program.
 */
const resultParser: Interceptor = {
  name: 'release-registry.result-parser',
  transformRow: (context, query, row) => {
    const parser = context.resultParser;
    if (parser === undefined) return row;
    const result = parser['~standard'].validate(row);
    if (result instanceof Promise) throw new TypeError('asynchronous row schemas are not supported');
    if (result.issues !== undefined) throw new SchemaValidationError(query, row, result.issues);
    return result.value as typeof row;
  },
};

/** Every query's duration into release_registry_db_query_duration_seconds; at debug level, a log line too. */
function queryTimer(logger: Logger, pool: string): Interceptor {
  return {
    name: 'release-registry.query-timer',
    afterQueryExecution: (context, query, result) => {
      const started = context.queryInputTime;
      const elapsedMs = typeof started === 'bigint' ? Number(process.hrtime.bigint() - started) / 1e6 : performance.now() - started;
      observeQuery(pool, elapsedMs / 1000);
      if (logger.isLevelEnabled('debug')) {
        logger.debug(
          { durationMs: Math.round(elapsedMs * 1000) / 1000, rows: result.rowCount, sql: query.sql.replace(/\s+/g, ' ').slice(0, 300) },
          'query',
        );
      }
      return null;
    },
    queryExecutionError: (_context, _query, error) => {
      recordQueryError(pool, queryErrorKind(error));
      return null;
    },
  };
}

/** SQLSTATEs: https://www.postgresql.org/docs/current/errcodes-appendix.html */
function queryErrorKind(error: unknown): QueryErrorKind {
  const code = sqlStateOf(error);
  if (code === '57014') return 'statement_timeout';
  if (code === '55P03') return 'lock_timeout';
  if (code === '40P01') return 'deadlock';
  if (code === '40001') return 'serialization';
  return isDatabaseUnavailable(error) ? 'unavailable' : 'other';
}

const int8 = { name: 'int8', parse: (value: string) => Number(value) };
const timestamptz = { name: 'timestamptz', parse: (value: string) => new Date(value) };
const bytea = { name: 'bytea', parse: (value: string) => Buffer.from(value.slice(2), 'hex') };

/** Pool methods that take a connection for the duration of their promise. */
const GATED_METHODS = new Set<PropertyKey>([
  'any',
  'anyFirst',
  'connect',
  'exists',
  'many',
  'manyFirst',
  'maybeOne',
  'maybeOneFirst',
  'one',
  'oneFirst',
  'query',
  'record',
  'stream',
  'transaction',
]);

/**
 * A bounded Slonik pool: at most `maximumPoolSize` connections, opening one takes at most
 * `connectionTimeoutMs`, waiting for a busy pool at most `acquireTimeoutMs` (both fail with an error
 * that src/db/unavailable.ts classifies as "database unavailable"). Its counts are exported as
 * release_registry_db_pool_* under `pool="<application name without release-registry->"`.
 */
export async function createDatabasePool(url: string, options: PoolOptions): Promise<Database> {
  const withName = new URL(url);
  if (!withName.searchParams.has('application_name')) withName.searchParams.set('application_name', options.applicationName);
  const label = poolLabel(options.applicationName);
  const pool = await createPool(withName.toString(), {
    maximumPoolSize: options.maximumPoolSize,
    connectionTimeout: options.connectionTimeoutMs ?? 5_000,
    statementTimeout: options.statementTimeoutMs ?? 30_000,
    idleTimeout: 10_000,
    // Closing a connection whose server vanished waits for a goodbye that never comes; on a live
    // network it takes milliseconds. Slonik's 5 s default would eat half of SHUTDOWN_TIMEOUT_MS.
    gracefulTerminationTimeout: 1_000,
    // Retries would hide a restarting server from health checks; callers decide.
    connectionRetryLimit: 0,
    captureStackTrace: false,
    // Slonik runs DISCARD ALL whenever a connection goes back to the pool: one more round trip per
    // query or transaction. Our code never leaves session state behind (settings are transaction-
    // local, advisory locks are transaction-level, LISTEN has its own client), so there is nothing
    // to discard.
    resetConnection: async () => undefined,
    interceptors: [resultParser, queryTimer(options.logger, label)],
    // int8 ids and counts stay far below 2^53; timestamps are Date objects; bytea are Buffers.
    typeParsers: [int8, timestamptz, bytea],
  });

  const gate = new ConnectionGate({ name: label, size: options.maximumPoolSize, timeoutMs: options.acquireTimeoutMs ?? 5_000 });
  initPoolSeries(label);
  const untrack = trackPool(label, () => {
    const state = pool.state();
    if (state.state !== 'ACTIVE') return null;
    return {
      max: options.maximumPoolSize,
      inUse: state.acquiredConnections + state.pendingReleaseConnections,
      idle: state.idleConnections,
      pending: state.pendingConnections,
      waiting: gate.waiting + state.waitingClients,
    };
  });

  const gated = new Map<PropertyKey, unknown>();
  return new Proxy(pool, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property === 'end') {
        return async () => {
          gate.close();
          untrack();
          await target.end();
        };
      }
      if (!GATED_METHODS.has(property)) return value;
      let wrapper = gated.get(property);
      if (wrapper === undefined) {
        wrapper = (...args: unknown[]) =>
          gate.run(async () => {
            try {
              return await (value as (...inner: unknown[]) => Promise<unknown>).apply(target, args);
            } catch (error) {
              // Failing to get a connection at all never reaches the query interceptor: count it here.
              if (error instanceof ConnectionError) recordQueryError(label, 'unavailable');
              throw error;
            }
          });
        gated.set(property, wrapper);
      }
      return wrapper;
    },
  });
}

const anyRow = z.record(z.string(), z.unknown());

/**
 * A query from text and positional values, for libraries that hand us SQL (pg-boss's `db` option),
 * so that their statements run inside our Slonik transactions. Our own SQL uses the `sql` tag.
 */
export function rawQuery(text: string, values: readonly unknown[] = []): QuerySqlToken<typeof anyRow> {
  return { type: QueryToken, sql: text, values: values as QuerySqlToken['values'], parser: anyRow };
}
