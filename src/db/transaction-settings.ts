import { sql } from 'slonik';
import type { Queryable } from './pool.ts';

/**
 * Turns PostgreSQL's JIT compilation off for the rest of the caller's transaction. The sync's batch
 * statements look expensive to the planner (a subplan per input row), which crosses
 * `jit_above_cost`, and compiling them took 60 of 95 ms of a 1,000-row upsert that runs in 35 ms
 * without: JIT pays off for long analytical queries, not for these.
 */
export async function disableJit(db: Queryable): Promise<void> {
  await db.query(sql.unsafe`SET LOCAL jit = off`);
}
