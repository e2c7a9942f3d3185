import { coalescedRuns, type CoalescedRuns } from '../../src/coalesced-runs.ts';
import type { Database } from '../../src/db/pool.ts';
import { announceStoredDeliveries } from '../../src/db/webhook-deliveries.ts';
import type { Logger } from '../../src/logger.ts';

// Wakes the worker's enqueuer after the intake committed queued deliveries: a NOTIFY in a
// transaction of its own, sent after the commit and not awaited by the answer. Not in the intake's
// own transaction: PostgreSQL serializes the commits of notifying transactions, and a NOTIFY per
// batch cost the intake about as much as the rest of its commit. Coalesced: while one is in flight,
// and for `minIntervalMs` after it, later commits set one more to follow, so a lone delivery is
// announced at once and a busy intake sends a few hundred a second at most. A lost or failed
// announcement delays a delivery until the enqueuer's next tick; it loses nothing.

export class DeliveryAnnouncer {
  readonly #runs: CoalescedRuns;

  constructor(db: Database, logger: Logger, minIntervalMs = 5) {
    this.#runs = coalescedRuns(
      async () => {
        try {
          await announceStoredDeliveries(db);
        } catch (error) {
          logger.debug({ err: error }, 'announcing stored deliveries failed; the enqueuer finds them on its next tick');
        }
      },
      { minIntervalMs },
    );
  }

  announce(): void {
    this.#runs.request();
  }
}
