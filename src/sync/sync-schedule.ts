import cron, { type ScheduledTask } from 'node-cron';
import type { PgBoss } from 'pg-boss';
import type { Database } from '../db/pool.ts';
import { listProducts, type Product } from '../db/products.ts';
import { claimScheduledSlot, listProductsSyncedOnlyBefore, SCHEDULED_SLOT_MAX_AHEAD_MS } from '../db/sync-state.ts';
import type { Logger } from '../logger.ts';
import { previousCronSlot } from './previous-cron-slot.ts';
import { enqueueSync } from './sync-job.ts';

// The scheduled sync: every worker replica runs node-cron on SYNC_SCHEDULE, and at each tick
// enqueues a sync of every tracked product that no replica has enqueued for that tick yet.
// node-cron names a tick by its nominal time (the `date` of its context, whole seconds), which is
// the same in every replica whose clock is roughly right, whenever each actually fires; claiming
// the tick per product in sync_state (claimScheduledSlot) and enqueueing in the same transaction
// makes "one sync per product per tick" hold however the replicas' ticks are spread. pg-boss's
// `singletonSeconds` slots would not: they are cut at fixed multiples of the slot length, and a
// tick that falls on a cut (which a cron tick does, by definition) lands in two slots when two
// replicas fire a few milliseconds apart. The queue's `exclusive` policy still refuses a tick's job
// while the product's previous sync is queued or running. A tick more than a minute ahead of the
// database's clock (a replica whose clock is fast) is refused and logged, or it would take the
// slots of the correct replicas' coming ticks.
// A tick due while no worker ran is made up when a worker starts: node-cron skips a tick more than
// missedExecutionTolerance late and never runs past ones, so an outage across a tick would leave
// the products unsynced for a whole further period. The start ticks the schedule's last slot
// before now; a slot some replica claimed already is taken, so this is a no-op unless it was missed.
// Only for products whose last successful sync is older than that slot: one synced since (by
// SYNC_ON_START, a command, another replica's tick) missed nothing, and a never-synced one has no
// data to go stale; its first sync at start is SYNC_ON_START's to decide (off, a start with no
// missed tick sends GitHub nothing, as before).

/**
 * Longest stop waits for a tick in progress, unless the caller's shutdown budget asks for less: a
 * tick is a few short statements, so this is far more than one needs.
 */
const STOP_WAIT_MS = 5_000;

export type SyncScheduler = {
  /** Enqueues the syncs of tick `slot`; returns the products this replica enqueued. */
  tick: (slot: Date) => Promise<string[]>;
  /** The made-up tick of the schedule's last slot before the start: the products it enqueued ([] when disabled or on error). */
  caughtUp: Promise<string[]>;
  stop: () => Promise<void>;
};

export function startSyncSchedule(options: {
  db: Database;
  boss: PgBoss;
  logger: Logger;
  schedule: string;
  enabled?: boolean;
  /** Most `stop` waits for a tick in progress (default and cap: STOP_WAIT_MS). */
  stopWaitMs?: number;
}): SyncScheduler {
  const stopWaitMs = Math.min(STOP_WAIT_MS, options.stopWaitMs ?? STOP_WAIT_MS);
  const { db, boss, logger } = options;
  const tick = async (slot: Date, only: (product: Product) => boolean = () => true): Promise<string[]> => {
    const products = (await listProducts(db)).filter(only);
    return db.transaction(async (transaction) => {
      const claim = await claimScheduledSlot(transaction, products.map((product) => product.id), slot);
      if (claim.refused) {
        logger.warn(
          { slot: slot.toISOString(), aheadMs: Math.round(claim.aheadMs), maxAheadMs: SCHEDULED_SLOT_MAX_AHEAD_MS },
          "scheduled tick ahead of the database's clock: this replica's clock is fast; nothing enqueued",
        );
        return [];
      }
      const claimed = new Set(claim.productIds);
      const enqueued: string[] = [];
      for (const product of products) {
        if (!claimed.has(product.id)) continue;
        const job = await enqueueSync(boss, { product: product.name, reason: 'schedule', slot: slot.toISOString() }, { db: transaction });
        if (!job.alreadyQueued) enqueued.push(product.name);
      }
      logger.info({ slot: slot.toISOString(), claimed: claimed.size, enqueued }, 'scheduled syncs');
      return enqueued;
    });
  };
  let task: ScheduledTask | undefined;
  let caughtUp: Promise<string[]> = Promise.resolve([]);
  /** Ticks node-cron started and that have not finished: stop waits for them. */
  const running = new Set<Promise<unknown>>();
  const track = <T>(promise: Promise<T>): Promise<T> => {
    running.add(promise);
    void promise.finally(() => running.delete(promise)).catch(() => {});
    return promise;
  };
  if (options.enabled ?? true) {
    task = cron.schedule(
      options.schedule,
      async (context) => {
        try {
          await track(tick(context.date));
        } catch (error) {
          logger.error({ err: error, slot: context.date.toISOString() }, 'could not enqueue the scheduled syncs');
        }
      },
      // A tick that fires late (an event loop busy, a throttled container) still runs, up to 30 s
      // late, instead of node-cron's default 1 s after which it is skipped: its slot is the
      // nominal time, so replicas still claim it once.
      { name: 'sync-schedule', noOverlap: true, missedExecutionTolerance: 30_000 },
    );
    const missed = previousCronSlot(task, new Date());
    if (missed !== null) {
      caughtUp = track(
        listProductsSyncedOnlyBefore(db, missed)
          .then((due) => tick(missed, (product) => due.includes(product.name)))
          .catch((error: unknown) => {
            logger.error({ err: error, slot: missed.toISOString() }, 'could not enqueue the syncs of the last scheduled tick');
            return [];
          }),
      );
    }
  }
  return {
    tick,
    caughtUp,
    stop: async () => {
      // node-cron's destroy only stops further ticks: a tick still running would have the pools
      // closed under it, failing its claim and enqueue. Bounded, as a tick stuck on a lock must
      // not hold the shutdown.
      await task?.destroy();
      if (running.size === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), stopWaitMs);
      });
      const outcome = await Promise.race([Promise.allSettled([...running]), bound]);
      clearTimeout(timer);
      if (outcome === 'timeout') logger.warn({ waitedMs: stopWaitMs, ticks: running.size }, 'stopping the sync schedule without waiting further for a tick in progress');
    },
  };
}
