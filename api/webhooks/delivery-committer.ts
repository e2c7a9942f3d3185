import type { Database } from '../../src/db/pool.ts';
import { storeDeliveries, type NewDelivery } from '../../src/db/webhook-deliveries.ts';
import { asDatabaseUnavailable, sqlStateOf } from '../../src/db/unavailable.ts';
import { InvalidInputError } from '../../src/errors.ts';
import type { Logger } from '../../src/logger.ts';
import { DeliveryAnnouncer } from './delivery-announcer.ts';

// Group commit for webhook deliveries. Each delivery must be durable before its 2xx goes out, and a
// commit costs a WAL flush and a round trip whatever it holds. So deliveries that arrive while a
// commit is under way wait for the next one, which takes them all in one statement: no timer, no
// added latency when idle (a lone delivery commits at once), and under load the batch grows with
// the arrival rate. Each caller is answered only after the commit that holds its delivery. The
// statement (storeDeliveries) matches each delivery to products and stores it; the worker's
// enqueuer gives the queued ones their job, woken by a NOTIFY sent after the commit
// (delivery-announcer.ts). Should PostgreSQL refuse one delivery's data, the batch is retried one
// by one, so that only that delivery is refused.

export type CommitOutcome =
  | { stored: false }
  | { stored: true; status: 'queued'; productIds: number[] }
  | { stored: true; status: 'ignored'; reason: string };

type DeliveryCommitterOptions = {
  db: Database;
  logger: Logger;
  /** Most deliveries in one transaction. */
  maxBatchSize?: number;
  /** Most payload bytes in one transaction (a big payload travels alone). */
  maxBatchBytes?: number;
  /**
   * Commits under way at once. One by default: the fixed cost of a commit dominates, and a second
   * one in flight only splits the waiting deliveries into smaller batches.
   */
  maxInFlight?: number;
};

type Pending = {
  delivery: NewDelivery;
  resolve: (outcome: CommitOutcome) => void;
  reject: (error: unknown) => void;
};

export class DeliveryCommitter {
  readonly #db: Database;
  readonly #logger: Logger;
  readonly #announcer: DeliveryAnnouncer;
  readonly #maxBatchSize: number;
  readonly #maxBatchBytes: number;
  readonly #maxInFlight: number;
  #pending: Pending[] = [];
  #inFlight = 0;

  constructor(options: DeliveryCommitterOptions) {
    this.#db = options.db;
    this.#logger = options.logger;
    this.#announcer = new DeliveryAnnouncer(options.db, options.logger);
    this.#maxBatchSize = options.maxBatchSize ?? 256;
    this.#maxBatchBytes = options.maxBatchBytes ?? 8 * 1024 * 1024;
    this.#maxInFlight = options.maxInFlight ?? 1;
  }

  /**
   * Matches the delivery to products, stores it, and resolves once it is committed. `stored:
   * false`: that delivery id was stored before (a redelivery).
   */
  commit(delivery: NewDelivery): Promise<CommitOutcome> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ delivery, resolve, reject });
      this.#drain();
    });
  }

  #drain(): void {
    while (this.#inFlight < this.#maxInFlight && this.#pending.length > 0) {
      const batch = this.#takeBatch();
      this.#inFlight += 1;
      void this.#write(batch).finally(() => {
        this.#inFlight -= 1;
        this.#drain();
      });
    }
  }

  #takeBatch(): Pending[] {
    let bytes = 0;
    let count = 0;
    for (const pending of this.#pending) {
      if (count >= this.#maxBatchSize || (count > 0 && bytes + pending.delivery.payload.length > this.#maxBatchBytes)) break;
      bytes += pending.delivery.payload.length;
      count += 1;
    }
    return this.#pending.splice(0, count);
  }

  async #write(batch: Pending[]): Promise<void> {
    // The same delivery id twice in one batch: the first is the candidate, the others duplicates.
    const first = new Map<string, Pending>();
    for (const pending of batch) if (!first.has(pending.delivery.deliveryId)) first.set(pending.delivery.deliveryId, pending);
    const candidates = [...first.values()].map((pending) => pending.delivery);
    try {
      const outcomes = await this.#store(candidates);
      for (const pending of batch) {
        const isCandidate = first.get(pending.delivery.deliveryId) === pending;
        pending.resolve(isCandidate ? outcomes.get(pending.delivery.deliveryId)! : { stored: false });
      }
    } catch (error) {
      if (candidates.length > 1 && isDataException(error)) {
        // One payload PostgreSQL cannot store must not fail the deliveries batched with it.
        for (const pending of batch) await this.#write([pending]);
        return;
      }
      const answer = toAnswer(error);
      if (!(answer instanceof InvalidInputError)) this.#logger.warn({ err: error, deliveries: candidates.length }, 'storing webhook deliveries failed');
      for (const pending of batch) pending.reject(answer);
    }
  }

  async #store(deliveries: readonly NewDelivery[]): Promise<Map<string, CommitOutcome>> {
    // One statement, so one autocommit transaction: no BEGIN and COMMIT round trips.
    const stored = await storeDeliveries(this.#db, deliveries);
    if ([...stored.values()].some((outcome) => outcome.status === 'queued')) this.#announcer.announce();
    return new Map(
      deliveries.map((delivery): [string, CommitOutcome] => {
        const outcome = stored.get(delivery.deliveryId);
        return [delivery.deliveryId, outcome === undefined ? { stored: false } : { stored: true, ...outcome }];
      }),
    );
  }
}

/** SQLSTATE class 22: the data itself is unacceptable (which a verified, parsed delivery should never be). */
function isDataException(error: unknown): boolean {
  return sqlStateOf(error)?.startsWith('22') ?? false;
}

/** What the callers of a failed batch are answered: 400 for a payload jsonb refuses, 503 while the database is away, else the error itself (500). */
function toAnswer(error: unknown): unknown {
  if (isDataException(error)) {
    const reason = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    return new InvalidInputError(`the payload cannot be stored: ${reason}`, [], { cause: error });
  }
  return asDatabaseUnavailable(error);
}
