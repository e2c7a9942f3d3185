import type { PgBoss } from 'pg-boss';
import { coalescedRuns } from '../src/coalesced-runs.ts';
import { listenForChanges } from '../src/db/change-listener.ts';
import type { Database } from '../src/db/pool.ts';
import { STORED_DELIVERIES_CHANNEL } from '../src/db/webhook-deliveries.ts';
import type { Logger } from '../src/logger.ts';
import { enqueueStoredDeliveries, SWEEP_SIZE } from '../src/webhooks/enqueue-stored-deliveries.ts';

// Gives the deliveries the intake stored their process-delivery jobs. Woken by the intake's NOTIFY
// on webhook_deliveries_stored (at once while idle, at most every few milliseconds under load), and
// by a timer: a NOTIFY is lost when no worker listens or an API dies between its commit and its
// notification, and the timer (and the sweep at start) find what it would have announced. Sweeps
// run one at a time and go on while a sweep fills all its jobs; every worker replica sweeps, and
// SKIP LOCKED keeps two from taking the same rows.

export type DeliveryEnqueuerOptions = {
  db: Database;
  boss: PgBoss;
  databaseUrl: string;
  logger: Logger;
  /** Seconds between sweeps nobody asked for. */
  pollingIntervalSeconds?: number;
};

export type DeliveryEnqueuer = {
  /** Resolves once listening (or stopped). */
  readonly ready: Promise<void>;
  stop: () => Promise<void>;
};

export function startDeliveryEnqueuer(options: DeliveryEnqueuerOptions): DeliveryEnqueuer {
  const { db, boss, logger } = options;
  let stopped = false;
  const sweeps = coalescedRuns(async () => {
    try {
      // A full sweep means more may be waiting.
      while (!stopped && (await enqueueStoredDeliveries(db, boss)) === SWEEP_SIZE);
    } catch (error) {
      // The database is away, or the boss stopping: the next wake-up or tick tries again.
      if (!stopped) logger.warn({ err: error }, 'enqueueing stored deliveries failed');
    }
  });
  const sweep = (): void => {
    if (!stopped) sweeps.request();
  };

  const listener = listenForChanges(
    options.databaseUrl,
    // (Re)connected: notifications may have been missed meanwhile.
    { onChange: sweep, onConnected: sweep, onDisconnected: () => undefined },
    { logger, channel: STORED_DELIVERIES_CHANNEL, applicationName: 'release-registry-worker-listen' },
  );
  const timer = setInterval(sweep, (options.pollingIntervalSeconds ?? 2) * 1000);
  timer.unref();
  sweep();

  return {
    ready: listener.ready,
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await listener.stop();
      await sweeps.idle();
    },
  };
}
