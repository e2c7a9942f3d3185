import { QueryToken } from '@slonik/sql-tag';
import {
  createPool,
  SchemaValidationError,
  type CommonQueryMethods,
  type DatabasePool,
  type Interceptor,
  type QuerySqlToken,
} from 'slonik';
import { z } from 'zod';
import type { Logger } from '../logger.ts';

export type Database = DatabasePool;
/** A pool, a connection or a transaction: anything that runs queries. */
export type Queryable = CommonQueryMethods;

export type PoolOptions = {
  logger: Logger;
  maximumPoolSize: number;
  applicationName: string;
  /** Fail fast instead of queueing forever when the server is down (see the fault suite). */
  connectionTimeoutMs?: number;
  statementTimeoutMs?: number;
};

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

/** At debug level, every query's duration (LOG_LEVEL=debug). */
function queryTimer(logger: Logger): Interceptor {
  return {
    name: 'release-registry.query-timer',
    afterQueryExecution: (context, query, result) => {
      if (logger.isLevelEnabled('debug')) {
        const started = context.queryInputTime;
        const elapsedMs = typeof started === 'bigint' ? Number(process.hrtime.bigint() - started) / 1e6 : performance.now() - started;
        logger.debug(
          { durationMs: Math.round(elapsedMs * 1000) / 1000, rows: result.rowCount, sql: query.sql.replace(/\s+/g, ' ').slice(0, 300) },
          'query',
        );
      }
      return null;
    },
  };
}

const int8 = { name: 'int8', parse: (value: string) => Number(value) };
const timestamptz = { name: 'timestamptz', parse: (value: string) => new Date(value) };
const bytea = { name: 'bytea', parse: (value: string) => Buffer.from(value.slice(2), 'hex') };

export async function createDatabasePool(url: string, options: PoolOptions): Promise<Database> {
  const withName = new URL(url);
  if (!withName.searchParams.has('application_name')) withName.searchParams.set('application_name', options.applicationName);
  return createPool(withName.toString(), {
    maximumPoolSize: options.maximumPoolSize,
    connectionTimeout: options.connectionTimeoutMs ?? 5_000,
    statementTimeout: options.statementTimeoutMs ?? 30_000,
    idleTimeout: 10_000,
    // Retries would hide a restarting server from health checks; callers decide.
    connectionRetryLimit: 0,
    captureStackTrace: false,
    interceptors: [resultParser, queryTimer(options.logger)],
    // int8 ids and counts stay far below 2^53; timestamps are Date objects; bytea are Buffers.
    typeParsers: [int8, timestamptz, bytea],
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
