import { createHash } from 'node:crypto';
import type { Db } from 'pg-boss';
import { rawQuery, type Queryable } from './pool.ts';

/**
 * pg-boss's database interface over one of our connections or transactions: passed as the `db`
 * option of `boss.insert()` / `boss.send()`, the job is written in that transaction and commits or
 * rolls back with our own rows (a delivery and its job are stored together or not at all).
 *
 * Its statements run as named prepared statements: pg-boss's job insert is one fixed text per
 * queue, and parsing and planning it cost PostgreSQL about 0.6 ms on every insert, more than
 * running it (measured per backend); prepared, each connection pays that once.
 */
export function bossDatabase(db: Queryable): Db {
  return {
    executeSql: async (text, values) => {
      const query = rawQuery(text, values ?? []);
      const name = statementName(text, values?.length ?? 0);
      return { rows: [...(await db.any(name === null ? query : { ...query, name }))] };
    },
  };
}

// A statement is named after its text, so that two texts never share a name. Only texts that take
// parameters, and only so many: a text with its data written into it would otherwise leave a new
// prepared statement on every connection at every call.
const MAX_NAMED_STATEMENTS = 32;
const names = new Map<string, string>();

function statementName(text: string, parameters: number): string | null {
  if (parameters === 0) return null;
  const known = names.get(text);
  if (known !== undefined || names.size >= MAX_NAMED_STATEMENTS) return known ?? null;
  const name = `pgboss_${createHash('sha256').update(text).digest('hex').slice(0, 40)}`;
  names.set(text, name);
  return name;
}
