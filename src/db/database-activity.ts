import { sql } from 'slonik';
import { z } from 'zod';
import type { Queryable } from './pool.ts';

// A cheap, read-only sample of the server's catalog views for the operator's alerts: connections per
// application (against max_connections) and lock waits of our own sessions.
//
// Why sampling pg_locks rather than timing our writes: a write's duration mixes execution and lock
// waiting, and a lock_timeout would turn waits that are intended (pg-boss's and our advisory locks,
// row locks held by a concurrent sync for a few milliseconds) into failures. pg_locks.waitstart
// (PostgreSQL 14+) is when the server started waiting for the one lock a backend is blocked on, so
// `now() - waitstart` is the lock-wait time itself, for every kind of lock, at no cost to the writes.
// A scrape sees waits in progress: short ones between two scrapes are missed, long ones (the ones
// that hurt) are not. https://www.postgresql.org/docs/current/view-pg-locks.html

export const APPLICATION_PREFIX = 'release-registry';

const activityRow = z.object({
  application: z.string(),
  connections: z.number(),
  lockWaiting: z.number(),
  longestLockWaitSeconds: z.number(),
});

export type DatabaseActivity = {
  maxConnections: number;
  applications: Array<z.infer<typeof activityRow>>;
};

const sampleRow = z.object({ maxConnections: z.number(), applications: z.array(activityRow) });

export async function sampleDatabaseActivity(db: Queryable): Promise<DatabaseActivity> {
  // One round trip per scrape: the setting and the per-application rows come back as one row.
  return db.one(sql.type(sampleRow)`
    SELECT
      current_setting('max_connections')::int AS "maxConnections",
      coalesce((SELECT jsonb_agg(t) FROM (
        SELECT
          CASE WHEN a.application_name LIKE ${`${APPLICATION_PREFIX}%`} THEN a.application_name ELSE 'other' END AS application,
          count(*)::int AS connections,
          count(w.waitstart)::int AS "lockWaiting",
          coalesce(extract(epoch FROM max(clock_timestamp() - w.waitstart)), 0)::float8 AS "longestLockWaitSeconds"
        FROM pg_stat_activity a
        LEFT JOIN LATERAL (
          SELECT min(l.waitstart) AS waitstart FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted
        ) w ON true
        WHERE a.backend_type = 'client backend'
        GROUP BY 1
      ) t), '[]'::jsonb) AS applications`);
}
