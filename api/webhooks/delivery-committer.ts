import type { PgBoss } from 'pg-boss';
import { bossDatabase } from '../../src/db/boss-database.ts';
import type { Database } from '../../src/db/pool.ts';
import { insertDeliveries, type NewDelivery } from '../../src/db/webhook-deliveries.ts';
import { InvalidInputError, ServiceUnavailableError } from '../../src/errors.ts';
import type { Logger } from '../../src/logger.ts';
import { QUEUES } from '../../src/queues.ts';

// Group commit for webhook deliveries. Each delivery must be durable (its row and its job committed)
// before its 2xx goes out, and a commit costs a WAL flush plus four round trips whatever it holds.
// So deliveries that arrive while a commit is under way wait for the next one, which takes them all
// in one transaction: no timer, no added latency when idle (a lone delivery commits at once), and
// under load the batch grows with the arrival rate. Each caller is answered only after the commit
// that holds its delivery.

export type CommitResult = 'stored' | 'duplicate';

export type DeliveryCommitterOptions = {
  db: Database;
  boss: PgBoss;
  logger: Logger;
  /** Most deliveries in one transaction. */
  maxBatchSize?: number;
  /** Most payload bytes in one transaction (a big payload travels alone). */
  maxBatchBytes?: number;
  /** Transactions under way at once (each holds a pooled connection). */
  maxInFlight?: number;
};

type Pending = { delivery: NewDelivery; resolve: (result: CommitResult) => void; reject: (error: unknown) => void; sanitized?: boolean };

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
    this.#maxInFlight = options.maxInFlight ?? 2;
  }

  /** Stores the delivery and its job (if any); resolves once they are committed. */
  commit(delivery: NewDelivery): Promise<CommitResult> {
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
      const inserted = await this.#store(candidates);
      for (const pending of batch) {
        const isCandidate = first.get(pending.delivery.deliveryId) === pending;
        pending.resolve(isCandidate && inserted.has(pending.delivery.deliveryId) ? 'stored' : 'duplicate');
      }
    } catch (error) {
      if (candidates.length > 1 && isDataException(error)) {
        // One payload PostgreSQL cannot store must not fail the deliveries batched with it.
        for (const pending of batch) await this.#write([pending]);
        return;
      }
      const only = batch[0];
      if (batch.length === 1 && only !== undefined && !only.sanitized && isDataException(error)) {
        // jsonb has no room for U+0000 nor for unpaired surrogates, which JSON allows: store the
        // payload with those characters replaced rather than lose a signed delivery.
        await this.#write([{ ...only, delivery: { ...only.delivery, payloadJson: storableJson(only.delivery.payloadJson) }, sanitized: true }]);
        return;
      }
      const answer = toAnswer(error);
      if (answer instanceof ServiceUnavailableError) this.#logger.error({ err: error, deliveries: candidates.length }, 'storing webhook deliveries failed');
      for (const pending of batch) pending.reject(answer);
    }
  }

  async #store(deliveries: readonly NewDelivery[]): Promise<Set<string>> {
    return this.#db.transaction(async (transaction) => {
      const inserted = await insertDeliveries(transaction, deliveries);
      const jobs = deliveries
        .filter((delivery) => delivery.jobId !== null && inserted.has(delivery.deliveryId))
        .map((delivery) => ({ id: delivery.jobId!, data: { deliveryId: delivery.deliveryId } }));
      if (jobs.length > 0) await this.#boss.insert(QUEUES.processDelivery, jobs, { db: bossDatabase(transaction) });
      return inserted;
    });
  }
}

/** SQLSTATE class 22: the data itself is unacceptable (a \u0000 escape in a JSON string, a lone surrogate). */
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

function storableJson(json: string): string {
  return JSON.stringify(JSON.parse(json), (_key, value: unknown) =>
    typeof value === 'string' ? value.toWellFormed().replaceAll('\u0000', '\uFFFD') : value,
  );
}

function toAnswer(error: unknown): Error {
  if (isDataException(error)) {
    const reason = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    return new InvalidInputError(`the payload cannot be stored: ${reason}`, [], { cause: error });
  }
  return new ServiceUnavailableError('the delivery could not be stored, try again', { cause: error });
}
