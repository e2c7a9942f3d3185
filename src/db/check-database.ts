import { sql } from 'slonik';
import { z } from 'zod';
import type { Logger } from '../logger.ts';
import type { Queryable } from './pool.ts';

/** How long a health check waits for the database before calling it unavailable. */
export const DATABASE_CHECK_TIMEOUT_MS = 1_000;

/**
 * Whether the database answers a trivial query within `timeoutMs`. Never throws and never waits
 * longer: health and readiness endpoints must answer quickly while the database is down.
 */
export async function checkDatabase(db: Queryable, logger: Logger, timeoutMs = DATABASE_CHECK_TIMEOUT_MS): Promise<'ok' | 'unavailable'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'unavailable'>((resolve) => {
    timer = setTimeout(() => resolve('unavailable'), timeoutMs);
  });
  const check = db
    .oneFirst(sql.type(z.object({ ok: z.number() }))`SELECT 1 AS ok`)
    .then(() => 'ok' as const)
    .catch((error: unknown) => {
      logger.warn({ err: error }, 'database check failed');
      return 'unavailable' as const;
    });
  try {
    return await Promise.race([check, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
