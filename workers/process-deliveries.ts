import { randomUUID } from 'node:crypto';
import type { JobResult, JobWithMetadata, PgBoss } from 'pg-boss';
import { bossDatabase } from '../src/db/boss-database.ts';
import type { Database } from '../src/db/pool.ts';
import { beginReleaseWrite } from '../src/db/product-locks.ts';
import { findTrackedProductsByIds, recordRepositoryIdentity, repositoryPath, type Product } from '../src/db/products.ts';
import {
  claimDeliveries,
  markDeliveriesIgnored,
  markDeliveriesProcessed,
  moveDeliveriesToJob,
  recordDeliveryFailure,
  type DeliveryClaim,
  type StoredDelivery,
} from '../src/db/webhook-deliveries.ts';
import { AppError, GitHubRateLimitedError, PermanentPayloadError, RepositoryMismatchError } from '../src/errors.ts';
import { whileLockHeld } from '../src/github/lock-bounds.ts';
import type { RepositoryRef } from '../src/github/repository-ref.ts';
import { TAG_STATES_BATCH } from '../src/github/tag-states.ts';
import type { Logger } from '../src/logger.ts';
import { observeIngestLag, recordDeliveryProcessing } from '../src/metrics/metrics.ts';
import { QUEUES } from '../src/queues.ts';
import { applyTagStates } from '../src/webhooks/apply-tag-states.ts';
import { classifyStoredDelivery } from '../src/webhooks/classify-delivery.ts';
import { deliveryJobData, deliveryJobDataSchema } from '../src/webhooks/delivery-job.ts';
import type { TagStateReader } from '../src/webhooks/tag-states.ts';

// The process-delivery handler. pg-boss hands it a batch of jobs, each naming the deliveries one
// sweep of the enqueuer gave it (replayed deliveries included), or those one rate limit deferred.
// Each job claims the deliveries it is still responsible for; all claimed deliveries are grouped by
// product, and for each product the tags they name are read from GitHub and written with the shared
// writers, under the product's release-writing lock, one GraphQL query's worth of tags per hold of
// the lock (see src/webhooks/README.md for why this converges). Every delivery gets its own
// outcome, recorded on its row: processed, ignored, failed for good (retrying cannot help), failed
// for now (retried with its job), or deferred to the rate limit's reset under a new job (one per
// reset). A job's result follows from its deliveries': failed when one of them may pass on a retry
// (pg-boss retries the job, and the retry works only what is not finished; the last attempt marks
// those deliveries failed and the job goes to the dead-letter queue), dead-lettered at once when
// one can never be processed, completed otherwise.

export type DeliveryJob = JobWithMetadata<unknown>;

export type DeliveryProcessorOptions = {
  db: Database;
  boss: PgBoss;
  logger: Logger;
  readTagStates: TagStateReader;
};

/**
 * Most tags one hold of a product's lock reads and writes: one GraphQL query's worth. A burst of
 * deliveries for one product is worked in several short holds, each with its own transaction, so
 * the lock never waits on more than one GitHub request, one slow request cannot exhaust the time
 * allowed under the lock for all of them (src/github/lock-bounds.ts), and a failure fails only the
 * deliveries of that hold.
 */
const TAGS_PER_HOLD = TAG_STATES_BATCH;

type ProductWork = {
  product: Product;
  /** The repository in the latest delivery: GitHub's id, and its name then (renames, transfers). */
  latest: { receivedAt: Date; fullName: string | null; repositoryId: number | null };
  /** The hold the product's next deliveries join, until their tags would pass TAGS_PER_HOLD. */
  open?: Hold;
};

/** One hold of a product's lock: the tags it reads and writes, for the deliveries that name them. */
type Hold = { work: ProductWork; tags: Set<string>; deliveryIds: Set<string> };

type DeliveryOutcome =
  | { kind: 'processed' }
  | { kind: 'ignored'; reason: string }
  | { kind: 'deferred'; until: Date }
  /** `final`: no retry will follow (retrying cannot help, or this was the job's last attempt). */
  | { kind: 'failed'; error: string; final: boolean; retryable: boolean };

export function createDeliveryProcessor(options: DeliveryProcessorOptions): (jobs: DeliveryJob[]) => Promise<JobResult[]> {
  const { db, boss, logger, readTagStates } = options;

  return async (jobs) => {
    /** Jobs dead-lettered for their data; every other job's result follows from its deliveries. */
    const refused = new Map<string, JobResult>();
    /** The job of each owner (the job id deliveries name), and what each job asks to claim. */
    const jobByOwner = new Map<string, DeliveryJob>();
    const claims = new Map<string, DeliveryClaim & { retryFailed: boolean }>();
    for (const job of jobs) {
      // Job data crosses a boundary too (anything may have enqueued it): parsed once, here.
      const data = deliveryJobDataSchema.safeParse(job.data);
      if (!data.success) {
        refused.set(job.id, { id: job.id, status: 'deadletter', output: { error: 'the job data names no delivery (expected { deliveryIds })' } });
        recordDeliveryProcessing('failed');
        continue;
      }
      // Deliveries name the job that stored them. A job moved back from the dead-letter queue is a
      // new job whose root is that one, and it retries what its root failed for good.
      const owner = job.sourceRootId ?? job.id;
      if (!jobByOwner.has(owner)) jobByOwner.set(owner, job);
      for (const deliveryId of data.data.deliveryIds) {
        // Two jobs of this batch may name one delivery (a replay while the first is retried): each
        // asks for it, and the claim gives it to the one it names.
        claims.set(`${deliveryId}\n${owner}`, { deliveryId, jobId: owner, retryFailed: job.sourceRootId != null });
      }
    }

    // A job whose deliveries are all finished (or gone, or moved to another job) has nothing to do.
    const deliveries = await claimDeliveries(db, [...claims.values()]);
    /** The job each claimed delivery is worked for: the one it names. */
    const jobOf = new Map(deliveries.map((delivery) => [delivery.deliveryId, jobByOwner.get(delivery.jobId!)!]));
    const outcomes = new Map<string, DeliveryOutcome>();
    const claimOf = (delivery: StoredDelivery): DeliveryClaim => ({ deliveryId: delivery.deliveryId, jobId: delivery.jobId! });
    const deliveryById = new Map(deliveries.map((delivery) => [delivery.deliveryId, delivery]));

    const productIds = new Set(deliveries.flatMap((delivery) => delivery.productIds));
    const tracked = new Map((await findTrackedProductsByIds(db, [...productIds])).map((product) => [product.id, product]));
    const work = new Map<number, ProductWork>();
    const holds: Hold[] = [];
    const inOrderOfReceipt = deliveries.toSorted((a, b) => a.receivedAt.getTime() - b.receivedAt.getTime() || (a.deliveryId < b.deliveryId ? -1 : 1));
    for (const delivery of inOrderOfReceipt) {
      const classified = classifyStoredDelivery(delivery);
      if (classified instanceof PermanentPayloadError) {
        outcomes.set(delivery.deliveryId, { kind: 'failed', error: classified.message, final: true, retryable: false });
        continue;
      }
      if (classified.kind !== 'handled') {
        outcomes.set(delivery.deliveryId, { kind: 'ignored', reason: classified.kind === 'ping' ? 'ping' : classified.reason });
        continue;
      }
      const products = delivery.productIds.flatMap((id) => tracked.get(id) ?? []);
      if (products.length === 0) {
        outcomes.set(delivery.deliveryId, { kind: 'ignored', reason: 'no tracked product matches it any more' });
        continue;
      }
      for (const product of products) {
        const entry: ProductWork = work.get(product.id) ?? { product, latest: { receivedAt: new Date(0), fullName: null, repositoryId: null } };
        let hold = entry.open;
        const added = classified.changes.tags.filter((tag) => !hold?.tags.has(tag)).length;
        if (hold === undefined || (hold.tags.size > 0 && hold.tags.size + added > TAGS_PER_HOLD)) {
          hold = { work: entry, tags: new Set<string>(), deliveryIds: new Set<string>() };
          entry.open = hold;
          holds.push(hold);
        }
        for (const tag of classified.changes.tags) hold.tags.add(tag);
        hold.deliveryIds.add(delivery.deliveryId);
        if (delivery.receivedAt >= entry.latest.receivedAt) entry.latest = { receivedAt: delivery.receivedAt, fullName: delivery.repositoryFullName, repositoryId: delivery.repositoryId };
        work.set(product.id, entry);
      }
    }

    const failures = new Map<string, unknown>();
    const lagObserved = new Set<string>();
    for (const { work: { product, latest }, tags, deliveryIds } of holds) {
      // pg-boss aborts a job's signal once its expiry passed or its claim was lost: its retry may be
      // running already, so this attempt asks GitHub nothing more for it. Its deliveries not worked
      // yet fail with retries left, which queues them again for that retry to claim; on the job's
      // last attempt there is none, and they fail for good as the job does (`replay --failed`
      // queues them again). A hold shared with a job still live is worked for that job.
      const jobsOfHold = new Set([...deliveryIds].map((deliveryId) => jobOf.get(deliveryId)!));
      if ([...jobsOfHold].every((job) => job.signal?.aborted)) {
        const stopped = new JobAbortedError(product.name);
        for (const deliveryId of deliveryIds) if (!failures.has(deliveryId)) failures.set(deliveryId, stopped);
        continue;
      }
      try {
        const counts = await db.transaction(async (transaction) => {
          await beginReleaseWrite(transaction, product.id, 'webhook');
          // Read after taking the lock: whoever writes next has read GitHub after us. Bounded: a
          // spent rate limit defers the delivery rather than holding the lock until the reset.
          const current = await readProductTags(readTagStates, product, latest, [...tags]);
          const identity = { id: current.repository.databaseId, fullName: current.repository.nameWithOwner };
          const applied = await applyTagStates(transaction, product, current.states);
          if (product.githubRepositoryId !== identity.id || product.githubFullName !== identity.fullName) {
            await recordRepositoryIdentity(transaction, [product.id], identity);
          }
          return applied;
        });
        const committedAt = Date.now();
        for (const deliveryId of deliveryIds) {
          if (lagObserved.has(deliveryId)) continue;
          lagObserved.add(deliveryId);
          observeIngestLag((committedAt - deliveryById.get(deliveryId)!.receivedAt.getTime()) / 1000);
        }
        logger.debug({ product: product.name, tags: tags.size, deliveries: deliveryIds.size, ...counts }, 'webhook deliveries applied');
      } catch (error) {
        logger.warn({ err: error, product: product.name, deliveries: deliveryIds.size }, 'applying webhook deliveries failed');
        for (const deliveryId of deliveryIds) if (!failures.has(deliveryId)) failures.set(deliveryId, error);
      }
    }
    for (const hold of holds) {
      for (const deliveryId of hold.deliveryIds) if (!failures.has(deliveryId)) outcomes.set(deliveryId, { kind: 'processed' });
    }

    /** Deliveries met by a spent rate limit, by its reset. */
    const deferrals = new Map<number, { error: GitHubRateLimitedError; claims: DeliveryClaim[] }>();
    for (const [deliveryId, error] of failures) {
      const job = jobOf.get(deliveryId)!;
      const message = error instanceof Error ? error.message : String(error);
      if (error instanceof GitHubRateLimitedError) {
        const group = deferrals.get(error.resetAt.getTime()) ?? { error, claims: [] };
        group.claims.push(claimOf(deliveryById.get(deliveryId)!));
        deferrals.set(error.resetAt.getTime(), group);
        outcomes.set(deliveryId, { kind: 'deferred', until: error.resetAt });
      } else if (error instanceof AppError && !error.retryable) {
        outcomes.set(deliveryId, { kind: 'failed', error: message, final: true, retryable: false });
      } else {
        // Anything else may pass (GitHub or the database was briefly away): pg-boss retries the
        // job with backoff; the last attempt's failure is final.
        outcomes.set(deliveryId, { kind: 'failed', error: message, final: job.retryCount >= job.retryLimit, retryable: true });
      }
    }

    for (const { error, claims } of deferrals.values()) await deferDeliveries(db, boss, claims, error);
    await recordOutcomes(db, deliveries, outcomes, claimOf);

    const deliveriesOfJob = new Map<DeliveryJob, StoredDelivery[]>();
    for (const delivery of deliveries) {
      const job = jobOf.get(delivery.deliveryId)!;
      const own = deliveriesOfJob.get(job);
      if (own === undefined) deliveriesOfJob.set(job, [delivery]);
      else own.push(delivery);
    }
    return jobs.map((job) => {
      const own = deliveriesOfJob.get(job) ?? [];
      return refused.get(job.id) ?? { id: job.id, ...jobResult(own.map((delivery) => [delivery.deliveryId, outcomes.get(delivery.deliveryId)!] as const)) };
    });
  };
}

/** A delivery left unworked because its job was aborted; retryable, as any error not an AppError. */
class JobAbortedError extends Error {
  constructor(product: string) {
    super(`the job was aborted (its expiry passed or its claim was lost) before product ${product} was worked; left to the job's retry`);
    this.name = 'JobAbortedError';
  }
}

/** Writes each delivery's outcome on its row (a few statements per batch, not per delivery) and counts it. */
async function recordOutcomes(
  db: Database,
  deliveries: readonly StoredDelivery[],
  outcomes: ReadonlyMap<string, DeliveryOutcome>,
  claimOf: (delivery: StoredDelivery) => DeliveryClaim,
): Promise<void> {
  const processed: DeliveryClaim[] = [];
  const ignored = new Map<string, DeliveryClaim[]>();
  const failed = new Map<string, { claims: DeliveryClaim[]; error: string; final: boolean }>();
  for (const delivery of deliveries) {
    const outcome = outcomes.get(delivery.deliveryId)!;
    const claim = claimOf(delivery);
    if (outcome.kind === 'processed') {
      processed.push(claim);
      recordDeliveryProcessing('processed');
    } else if (outcome.kind === 'ignored') {
      ignored.set(outcome.reason, [...(ignored.get(outcome.reason) ?? []), claim]);
      recordDeliveryProcessing('ignored');
    } else if (outcome.kind === 'failed') {
      const key = `${outcome.final}\n${outcome.error}`;
      const group = failed.get(key) ?? { claims: [], error: outcome.error, final: outcome.final };
      group.claims.push(claim);
      failed.set(key, group);
      recordDeliveryProcessing(outcome.final ? 'failed' : 'retried');
    } else {
      recordDeliveryProcessing('retried');
    }
  }
  await markDeliveriesProcessed(db, processed);
  for (const [reason, claims] of ignored) await markDeliveriesIgnored(db, claims, reason);
  for (const { claims, error, final } of failed.values()) await recordDeliveryFailure(db, claims, error, final);
}

/** A job's result from its deliveries' outcomes in this attempt. */
function jobResult(outcomes: ReadonlyArray<readonly [string, DeliveryOutcome]>): Omit<JobResult, 'id'> {
  const failed = outcomes.filter((entry): entry is readonly [string, Extract<DeliveryOutcome, { kind: 'failed' }>] => entry[1].kind === 'failed');
  const count = (kind: DeliveryOutcome['kind']) => outcomes.filter(([, outcome]) => outcome.kind === kind).length;
  const summary = { processed: count('processed'), ignored: count('ignored'), deferred: count('deferred'), failed: failed.length };
  if (failed.length > 0) {
    const errors = Object.fromEntries(failed.map(([deliveryId, outcome]) => [deliveryId, outcome.error]));
    const output = { error: `${failed.length} of ${outcomes.length} deliveries failed: ${failed[0]![1].error}`, ...summary, errors };
    // One that may pass on a retry: the job is retried (or, after its last attempt, dead-lettered).
    if (failed.some(([, outcome]) => outcome.retryable)) return { status: 'failed', output };
    return { status: 'deadletter', output };
  }
  const deferred = outcomes.flatMap(([, outcome]) => (outcome.kind === 'deferred' ? [outcome.until] : []));
  return { status: 'completed', output: deferred.length > 0 ? { ...summary, deferredUntil: deferred[0]!.toISOString() } : summary };
}

/**
 * A rate limit is spent: rather than burn the retries before the reset (an hour at most), the
 * deliveries it met are queued again, in one transaction, under one job that starts at the reset.
 */
async function deferDeliveries(db: Database, boss: PgBoss, claims: readonly DeliveryClaim[], error: GitHubRateLimitedError): Promise<void> {
  const jobId = randomUUID();
  await db.transaction(async (transaction) => {
    const moved = await moveDeliveriesToJob(transaction, claims, jobId, error.message);
    if (moved.length > 0) await boss.insert(QUEUES.processDelivery, [{ id: jobId, data: deliveryJobData(moved), startAfter: error.resetAt }], { db: bossDatabase(transaction) });
  });
}

/**
 * The current state of a product's named tags, read from its repository; under the product's lock.
 * Names tried, in order: the latest delivery's, when that delivery is of the product's known
 * repository (GitHub's name for it then: a rename, a transfer); then the product's own (the last
 * name GitHub reported, else the configured one). A delivery matched by name before the
 * repository's id was known, or under the product's former definition, names a repository that
 * may not be the product's; and a name given up in a rename may have been taken since. The first
 * answer that is the product's repository (any, while its id is not known) is the one; none:
 * RepositoryMismatchError, and nothing is written.
 */
async function readProductTags(readTagStates: TagStateReader, product: Product, latest: ProductWork['latest'], tags: string[]) {
  const own = repositoryPath(product);
  const fromDelivery = latest.fullName !== null && product.githubRepositoryId !== null && latest.repositoryId === product.githubRepositoryId ? repositoryPath({ repository: latest.fullName, githubFullName: null }) : null;
  const paths = fromDelivery === null || samePath(fromDelivery, own) ? [own] : [fromDelivery, own];
  let read: Awaited<ReturnType<TagStateReader>> | undefined;
  for (const path of paths) {
    read = await whileLockHeld(() => readTagStates(path, tags));
    if (product.githubRepositoryId === null || read.repository.databaseId === product.githubRepositoryId) return read;
  }
  throw new RepositoryMismatchError(
    `GitHub's ${read!.repository.nameWithOwner} is repository ${read!.repository.databaseId}, not product ${product.name}'s (${product.githubRepositoryId}): its name was given up and taken since; nothing written`,
  );
}

function samePath(a: RepositoryRef, b: RepositoryRef): boolean {
  return a.owner.toLowerCase() === b.owner.toLowerCase() && a.repo.toLowerCase() === b.repo.toLowerCase();
}
