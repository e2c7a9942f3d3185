import { sql } from 'slonik';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import type { Queryable } from '../../../src/db/pool.ts';
import { QUEUES } from '../../../src/queues.ts';
import type { FaultStack } from './fault-stack.ts';

// The delivery invariants every webhook scenario ends with: whatever was answered 2xx is stored,
// given its job (by a worker's enqueuer) and processed; nothing stored lacks its job; no job is
// left behind.

const count = z.object({ count: z.number() });

/**
 * Waits until none of `deliveryIds` is queued or processing and no delivery job is still to run (a
 * job whose delivery was applied but whose completion PostgreSQL could not record runs once more,
 * finding nothing to do); runs pg-boss's supervision meanwhile.
 */
export async function waitUntilSettled(stack: FaultStack, deliveryIds: readonly string[], boundMs = 120_000): Promise<void> {
  const deadline = Date.now() + boundMs;
  let lastSupervise = 0;
  for (;;) {
    const pending = await stack.db.oneFirst(sql.type(count)`
      SELECT (SELECT count(*)::int FROM unnest(${sql.array([...deliveryIds], 'text')}) AS wanted(id)
              WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.delivery_id = wanted.id AND d.status IN ('processed', 'ignored', 'failed')))
           + (SELECT count(*)::int FROM pgboss.job WHERE name = ${QUEUES.processDelivery} AND state IN ('created', 'retry', 'active')) AS count`);
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending} deliveries or delivery jobs of ${deliveryIds.length} accepted not settled within ${boundMs} ms`);
    // Jobs of a killed worker are handed on once their heartbeat lapses; the workers' own
    // supervision notices every 15 s, this only makes it sooner.
    if (Date.now() - lastSupervise > 2_000) {
      lastSupervise = Date.now();
      if (process.env.FAULTS_DEBUG) process.stdout.write(`# pending ${pending} ${JSON.stringify(await jobCounts(stack.db))}\n`);
      await stack.boss.supervise(QUEUES.processDelivery).catch(() => undefined);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const deliveryState = z.object({ deliveryId: z.string(), status: z.string(), hasJob: z.boolean() });

/** Every accepted delivery is stored, has its job and was processed (or ignored: a ping). */
export async function assertAcceptedProcessed(db: Queryable, accepted: ReadonlyMap<string, number>): Promise<void> {
  const rows = await db.any(sql.type(deliveryState)`
    SELECT d.delivery_id AS "deliveryId", d.status,
           EXISTS (SELECT 1 FROM pgboss.job j WHERE j.name = ${QUEUES.processDelivery} AND j.data -> 'deliveryIds' ? d.delivery_id) AS "hasJob"
    FROM webhook_deliveries d`);
  const stored = new Map(rows.map((row) => [row.deliveryId, row]));
  const lost = [...accepted.keys()].filter((deliveryId) => !stored.has(deliveryId));
  assert.equal(lost, [], 'every delivery answered 2xx is stored');
  const withoutJob = rows.filter((row) => !row.hasJob && row.status !== 'ignored');
  assert.equal(withoutJob, [], 'every stored delivery that needs processing has its job');
  const unprocessed = [...accepted.keys()].map((deliveryId) => stored.get(deliveryId)!).filter((row) => row.status !== 'processed' && row.status !== 'ignored');
  assert.equal(unprocessed, [], 'every accepted delivery was processed');
  assert.ok(rows.filter((row) => row.status === 'processed').length > accepted.size / 2, 'most deliveries were processed, not ignored');
}

const jobStates = z.object({ name: z.string(), state: z.string(), count: z.number() });

/** pg-boss jobs of our queues by state, e.g. `{ 'process-delivery completed': 2000 }`. */
export async function jobCounts(db: Queryable): Promise<Record<string, number>> {
  const rows = await db.any(sql.type(jobStates)`
    SELECT name, state::text AS state, count(*)::int AS count FROM pgboss.job
    WHERE name = ANY(${sql.array(Object.values(QUEUES), 'text')}) GROUP BY name, state ORDER BY name, state`);
  return Object.fromEntries(rows.map((row) => [`${row.name} ${row.state}`, row.count]));
}

/** No job of ours is active, waiting for a retry, failed or dead-lettered. */
export async function assertNoJobLeft(db: Queryable): Promise<void> {
  const counts = await jobCounts(db);
  const left = Object.entries(counts).filter(([key]) => !key.endsWith(' completed'));
  assert.equal(Object.fromEntries(left), {}, `jobs not completed: ${JSON.stringify(counts)}`);
}
