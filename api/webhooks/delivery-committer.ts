import { randomUUID } from 'node:crypto';
import type { PgBoss } from 'pg-boss';
import { bossDatabase } from '../../src/db/boss-database.ts';
import type { Database, Queryable } from '../../src/db/pool.ts';
import { findProductsForRepository } from '../../src/db/products.ts';
import { insertDeliveries, type NewDelivery } from '../../src/db/webhook-deliveries.ts';
import { asDatabaseUnavailable } from '../../src/db/unavailable.ts';
import { InvalidInputError } from '../../src/errors.ts';
import type { Logger } from '../../src/logger.ts';
import { QUEUES } from '../../src/queues.ts';

// Group commit for webhook deliveries. Each delivery must be durable (its row and its job committed)
// before its 2xx goes out, and a commit costs a WAL flush and a few round trips whatever it holds.
// So deliveries that arrive while a commit is under way wait for the next one, which takes them all
// in one transaction: no timer, no added latency when idle (a lone delivery commits at once), and
// under load the batch grows with the arrival rate. Each caller is answered only after the commit
// that holds its delivery. Matching deliveries to products is batched the same way: one lookup per
// repository per transaction, not one per request. Should PostgreSQL refuse one delivery's data,
// the batch is retried one by one, so that only that delivery is refused.

/** A verified, parsed delivery, before it is matched to products. */
export type IncomingDelivery = Omit<NewDelivery, 'productIds' | 'status' | 'ignoredReason' | 'jobId'> & {
  /** A handled event names the repository to match; anything else is ignored for the reason given. */
  disposition: { kind: 'match'; repository: { id: number; fullName: string } } | { kind: 'ignored'; reason: string };
};

export type CommitOutcome =
  | { stored: false }
  | { stored: true; status: 'queued'; productIds: number[] }
  | { stored: true; status: 'ignored'; reason: string };

export type DeliveryCommitterOptions = {
  db: Database;
  boss: PgBoss;
  logger: Logger;
  /** Most deliveries in one transaction. */
  maxBatchSize?: number;
  /** Most payload bytes in one transaction (a big payload travels alone). */
  maxBatchBytes?: number;
  /**
   * Transactions under way at once. One by default: each transaction enqueues with NOTIFY, and
   * PostgreSQL serializes the commits of notifying transactions on one lock held through the WAL
   * flush, so a second transaction in flight only waits for that lock with a smaller batch.
   */
  maxInFlight?: number;
};

type Pending = {
  delivery: IncomingDelivery;
  resolve: (outcome: CommitOutcome) => void;
  reject: (error: unknown) => void;
};

export class DeliveryCommitter {
  readonly #db: Database;
  readonly #boss: PgBoss;
  readonly #logger: Logger;
  readonly #maxBatchSize: number;
  readonly #maxBatchBytes: number;
  readonly #maxInFlight: number;
  #pending: Pending[] = [];
  #inFlight = 0;

  constructor(options: DeliveryCommitterOptions) {
    this.#db = options.db;
    this.#boss = options.boss;
    this.#logger = options.logger;
    this.#maxBatchSize = options.maxBatchSize ?? 256;
    this.#maxBatchBytes = options.maxBatchBytes ?? 8 * 1024 * 1024;
    this.#maxInFlight = options.maxInFlight ?? 1;
  }

  /**
   * Matches the delivery to products, stores it and its job (if it is queued), and resolves once
   * they are committed. `stored: false`: that delivery id was stored before (a redelivery).
   */
  commit(delivery: IncomingDelivery): Promise<CommitOutcome> {
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
      if (count >= this.#maxBatchSize || (count > 0 && bytes + pending.delivery.payloadJson.length > this.#maxBatchBytes)) break;
      bytes += pending.delivery.payloadJson.length;
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

  async #store(deliveries: readonly IncomingDelivery[]): Promise<Map<string, CommitOutcome>> {
    return this.#db.transaction(async (transaction) => {
      const matched = await matchProducts(transaction, deliveries);
      const rows: NewDelivery[] = deliveries.map((delivery) => {
        const { disposition, ...fields } = delivery;
        const productIds = matched.get(delivery.deliveryId) ?? [];
        const ignoredReason =
          disposition.kind === 'ignored'
            ? disposition.reason
            : productIds.length === 0
              ? `repository ${disposition.repository.fullName} (id ${disposition.repository.id}) is not a tracked product`
              : null;
        return { ...fields, productIds, ignoredReason, status: ignoredReason === null ? 'queued' : 'ignored', jobId: ignoredReason === null ? randomUUID() : null };
      });
      const inserted = await insertDeliveries(transaction, rows);
      const jobs = rows
        .filter((row) => row.jobId !== null && inserted.has(row.deliveryId))
        .map((row) => ({ id: row.jobId!, data: { deliveryId: row.deliveryId } }));
      if (jobs.length > 0) await this.#boss.insert(QUEUES.processDelivery, jobs, { db: bossDatabase(transaction) });
      return new Map(
        rows.map((row): [string, CommitOutcome] => [
          row.deliveryId,
          !inserted.has(row.deliveryId)
            ? { stored: false }
            : row.ignoredReason === null
              ? { stored: true, status: 'queued', productIds: [...row.productIds] }
              : { stored: true, status: 'ignored', reason: row.ignoredReason },
        ]),
      );
    });
  }
}

/** Product ids per delivery id, one lookup per distinct repository of the batch. */
async function matchProducts(db: Queryable, deliveries: readonly IncomingDelivery[]): Promise<Map<string, number[]>> {
  const byRepository = new Map<string, number[]>();
  const matched = new Map<string, number[]>();
  for (const delivery of deliveries) {
    if (delivery.disposition.kind !== 'match') continue;
    const { id, fullName } = delivery.disposition.repository;
    const key = `${id}\n${fullName.toLowerCase()}`;
    let productIds = byRepository.get(key);
    if (productIds === undefined) {
      productIds = (await findProductsForRepository(db, { id, fullName })).map((product) => product.id);
      byRepository.set(key, productIds);
    }
    matched.set(delivery.deliveryId, productIds);
  }
  return matched;
}

/** SQLSTATE class 22: the data itself is unacceptable (which a verified, parsed delivery should never be). */
function isDataException(error: unknown): boolean {
  return sqlState(error)?.startsWith('22') ?? false;
}

function sqlState(error: unknown): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

/** What the callers of a failed batch are answered: 400 for a payload jsonb refuses, 503 while the database is away, else the error itself (500). */
function toAnswer(error: unknown): unknown {
  if (isDataException(error)) {
    const reason = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    return new InvalidInputError(`the payload cannot be stored: ${reason}`, [], { cause: error });
  }
  return asDatabaseUnavailable(error);
}
