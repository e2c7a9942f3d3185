import type { Db } from 'pg-boss';
import { rawQuery, type Queryable } from './pool.ts';

/**
 * pg-boss's database interface over one of our connections or transactions: passed as the `db`
 * option of `boss.insert()` / `boss.send()`, the job is written in that transaction and commits or
 * rolls back with our own rows (a delivery and its job are stored together or not at all).
 */
export function bossDatabase(db: Queryable): Db {
  return {
    executeSql: async (text, values) => ({ rows: [...(await db.any(rawQuery(text, values ?? [])))] }),
  };
}
