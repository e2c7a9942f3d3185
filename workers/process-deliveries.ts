import { randomUUID } from 'node:crypto';
import type { JobResult, JobWithMetadata, PgBoss } from 'pg-boss';
import { z } from 'zod';
import { bossDatabase } from '../src/db/boss-database.ts';
import type { Database } from '../src/db/pool.ts';
import { lockProductReleases } from '../src/db/product-locks.ts';
import { listProducts, recordRepositoryIdentity, repositoryPath, type Product } from '../src/db/products.ts';
import {
  claimDeliveries,
  markDeliveriesIgnored,
  markDeliveriesProcessed,
  recordDeliveryFailure,
  requeueDelivery,
  type StoredDelivery,
} from '../src/db/webhook-deliveries.ts';
import { AppError, GitHubRateLimitedError, PermanentPayloadError } from '../src/errors.ts';
import type { Logger } from '../src/logger.ts';
import { observeIngestLag, recordDeliveryProcessing } from '../src/metrics/metrics.ts';
import { QUEUES } from '../src/queues.ts';
import { applyTagStates } from '../src/webhooks/apply-tag-states.ts';
import { classifyDelivery, type DeliveryClass } from '../src/webhooks/classify-delivery.ts';
import type { TagStateReader } from '../src/webhooks/tag-states.ts';

// The process-delivery handler. pg-boss hands it a batch of jobs (one per stored delivery); the
// deliveries are grouped by product, and for each product the tags they name are read from GitHub
// once and written with the shared writers, under the product's release-writing lock (see
// src/webhooks/README.md for why this converges). Each job gets its own outcome: completed, failed
// (pg-boss retries it, then dead-letters it), dead-lettered at once (a payload that can never be
// processed), or deferred to the rate limit's reset under a new job.

export type DeliveryJob = JobWithMetadata<{ deliveryId: string }>;

export type DeliveryProcessorOptions = {
  db: Database;
  boss: PgBoss;
  logger: Logger;
  readTagStates: TagStateReader;
};

const jobDataSchema = z.object({ deliveryId: z.string().min(1) });

type ProductWork = {
  product: Product;
  tags: Set<string>;
  deliveryIds: Set<string>;
  /** The repository's name in the latest delivery: GitHub's name for it then (renames, transfers). */
  latest: { receivedAt: Date; fullName: string | null };
};

export function createDeliveryProcessor(options: DeliveryProcessorOptions): (jobs: DeliveryJob[]) => Promise<JobResult[]> {
  const { db, boss, logger, readTagStates } = options;

  return async (jobs) => {
    const results = new Map<string, JobResult>();
    const jobsByDelivery = new Map<string, DeliveryJob[]>();
    for (const job of jobs) {
      // Job data crosses a boundary too (anything may have enqueued it): parsed once, here.
      const data = jobDataSchema.safeParse(job.data);
      if (!data.success) {
        results.set(job.id, { id: job.id, status: 'deadletter', output: { error: 'the job data names no delivery (expected { deliveryId })' } });
        recordDeliveryProcessing('failed');
        continue;
      }
      jobsByDelivery.set(data.data.deliveryId, [...(jobsByDelivery.get(data.data.deliveryId) ?? []), job]);
    }
    const settle = (deliveryId: string, result: Omit<JobResult, 'id'>) => {
      for (const job of jobsByDelivery.get(deliveryId) ?? []) results.set(job.id, { id: job.id, ...result });
    };

    const deliveries = await claimDeliveries(db, [...jobsByDelivery.keys()]);
    // A job whose delivery row is gone has nothing left to do.
    for (const deliveryId of jobsByDelivery.keys()) if (!deliveries.some((delivery) => delivery.deliveryId === deliveryId)) settle(deliveryId, { status: 'completed' });

    const tracked = new Map((await listProducts(db)).map((product) => [product.id, product]));
    const work = new Map<number, ProductWork>();
    const ignored = new Map<string, string[]>();
    const ignore = (deliveryId: string, reason: string) => {
      ignored.set(reason, [...(ignored.get(reason) ?? []), deliveryId]);
      settle(deliveryId, { status: 'completed' });
    };
    for (const delivery of deliveries) {
      const classified = classify(delivery);
      if (classified instanceof PermanentPayloadError) {
        await recordDeliveryFailure(db, [delivery.deliveryId], classified.message, true);
        settle(delivery.deliveryId, { status: 'deadletter', output: { error: classified.message } });
        recordDeliveryProcessing('failed');
        continue;
      }
      if (classified.kind !== 'handled') {
        ignore(delivery.deliveryId, classified.kind === 'ping' ? 'ping' : classified.reason);
        continue;
      }
      const products = delivery.productIds.flatMap((id) => tracked.get(id) ?? []);
      if (products.length === 0) {
        ignore(delivery.deliveryId, 'no tracked product matches it any more');
        continue;
      }
      for (const product of products) {
        const entry = work.get(product.id) ?? { product, tags: new Set<string>(), deliveryIds: new Set<string>(), latest: { receivedAt: new Date(0), fullName: null } };
        for (const tag of classified.changes.tags) entry.tags.add(tag);
        entry.deliveryIds.add(delivery.deliveryId);
        if (delivery.receivedAt >= entry.latest.receivedAt) entry.latest = { receivedAt: delivery.receivedAt, fullName: delivery.repositoryFullName };
        work.set(product.id, entry);
      }
    }
    for (const [reason, deliveryIds] of ignored) {
      await markDeliveriesIgnored(db, deliveryIds, reason);
      for (const _ of deliveryIds) recordDeliveryProcessing('ignored');
    }

    const failures = new Map<string, unknown>();
    const receivedAt = new Map(deliveries.map((delivery) => [delivery.deliveryId, delivery.receivedAt]));
    const lagObserved = new Set<string>();
    for (const { product, tags, deliveryIds, latest } of work.values()) {
      try {
        const counts = await db.transaction(async (transaction) => {
          await lockProductReleases(transaction, product.id);
          // Read after taking the lock: whoever writes next has read GitHub after us.
          const current = await readTagStates(repositoryPath({ repository: product.repository, githubFullName: latest.fullName ?? product.githubFullName }), [...tags]);
          const applied = await applyTagStates(transaction, product, current.states);
          const identity = { id: current.repository.databaseId, fullName: current.repository.nameWithOwner };
          if (product.githubRepositoryId !== identity.id || product.githubFullName !== identity.fullName) {
            await recordRepositoryIdentity(transaction, [product.id], identity);
          }
          return applied;
        });
        const committedAt = Date.now();
        for (const deliveryId of deliveryIds) {
          if (lagObserved.has(deliveryId)) continue;
          lagObserved.add(deliveryId);
          observeIngestLag((committedAt - receivedAt.get(deliveryId)!.getTime()) / 1000);
        }
        logger.debug({ product: product.name, tags: tags.size, deliveries: deliveryIds.size, ...counts }, 'webhook deliveries applied');
      } catch (error) {
        logger.warn({ err: error, product: product.name, deliveries: deliveryIds.size }, 'applying webhook deliveries failed');
        for (const deliveryId of deliveryIds) if (!failures.has(deliveryId)) failures.set(deliveryId, error);
      }
    }

    const processed = [...new Set([...work.values()].flatMap((entry) => [...entry.deliveryIds]))].filter((deliveryId) => !failures.has(deliveryId));
    await markDeliveriesProcessed(db, processed);
    for (const deliveryId of processed) {
      settle(deliveryId, { status: 'completed' });
      recordDeliveryProcessing('processed');
    }

    for (const [deliveryId, error] of failures) {
      const job = jobsByDelivery.get(deliveryId)![0]!;
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof GitHubRateLimitedError) {
        await deferDelivery(db, boss, deliveryId, error, deliveries);
        settle(deliveryId, { status: 'completed', output: { deferredUntil: error.resetAt.toISOString() } });
        recordDeliveryProcessing('retried');
      } else if (error instanceof AppError && !error.retryable) {
        await recordDeliveryFailure(db, [deliveryId], message, true);
        settle(deliveryId, { status: 'deadletter', output: { error: message } });
        recordDeliveryProcessing('failed');
      } else {
        // Anything else may pass (GitHub or the database was briefly away): pg-boss retries with
        // backoff; the last attempt's failure is final.
        const final = job.retryCount >= job.retryLimit;
        await recordDeliveryFailure(db, [deliveryId], message, final);
        settle(deliveryId, { status: 'failed', output: { error: message } });
        recordDeliveryProcessing(final ? 'failed' : 'retried');
      }
    }
    return jobs.map((job) => results.get(job.id) ?? { id: job.id, status: 'failed', output: { error: 'no outcome' } });
  };
}

/** What a stored delivery is; an error when it can never be processed. */
function classify(delivery: StoredDelivery): DeliveryClass | PermanentPayloadError {
  try {
    return classifyDelivery(delivery.event, delivery.payload);
  } catch (error) {
    return new PermanentPayloadError(`the stored payload cannot be processed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * GitHub's primary rate limit is spent: rather than burn the retries before the reset (an hour at
 * most), the delivery is queued again under a new job that starts at the reset.
 */
async function deferDelivery(db: Database, boss: PgBoss, deliveryId: string, error: GitHubRateLimitedError, deliveries: readonly StoredDelivery[]): Promise<void> {
  const delivery = deliveries.find((item) => item.deliveryId === deliveryId)!;
  const jobId = randomUUID();
  await db.transaction(async (transaction) => {
    await requeueDelivery(transaction, { deliveryId, jobId, productIds: delivery.productIds, status: 'queued', ignoredReason: null });
    await recordDeliveryFailure(transaction, [deliveryId], error.message, false);
    await boss.insert(QUEUES.processDelivery, [{ id: jobId, data: { deliveryId }, startAfter: error.resetAt }], { db: bossDatabase(transaction) });
  });
}
