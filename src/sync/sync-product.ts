import { findUnseenReleases } from '../db/github-releases.ts';
import type { Database, Queryable } from '../db/pool.ts';
import { beginReleaseWrite } from '../db/product-locks.ts';
import { recordRepositoryIdentity, repositoryPath, type Product } from '../db/products.ts';
import {
  deleteGithubReleases,
  tombstoneTagsNotInRefListing,
  tombstoneTagsNotSeenInRun,
  upsertGithubReleases,
  upsertTags,
  writeTagPresence,
  type TagFact,
} from '../db/releases.ts';
import { addToRefListing, clearRefListing, listedTagsToRead } from '../db/sync-ref-listing.ts';
import {
  finishRun,
  lockSyncState,
  markListingTaken,
  recordRunInterruption,
  resumeRun,
  saveRunProgress,
  startRun,
  type ProgressUpdate,
  type RunMode,
  type RunPhase,
  type SyncState,
} from '../db/sync-state.ts';
import { parseTag } from '../domain/version.ts';
import { GitHubRateLimitedError, SyncSupersededError } from '../errors.ts';
import type { GitHubClient } from '../github/client.ts';
import { whileLockHeld } from '../github/lock-bounds.ts';
import { fetchReleasePages, type ReleasePage } from '../github/release-pages.ts';
import type { RepositoryIdentity, RepositoryRef } from '../github/repository-ref.ts';
import { streamTagRefs, type TagRefStream } from '../github/tag-refs.ts';
import { fetchTagStates, TAG_STATES_BATCH } from '../github/tag-states.ts';
import { tagPages } from '../github/tag-pages.ts';
import type { Logger } from '../logger.ts';
import { describeRun, newProgress, runProgressSchema, withCounts, withRequests, type RunProgress, type SyncRunResult } from './sync-progress.ts';

// One sync run of one product, resumable: the algorithm is described in src/sync/README.md.
// Every write goes through the shared writers (src/db/releases.ts) with change source 'sync',
// under the product's release-writing lock, and commits together with the run's progress.

/** Days between two complete listings of every release (the releases probe sees only the newest 100). */
export const FULL_RELEASE_PASS_INTERVAL_MS = 24 * 3600 * 1000;
/** GraphQL tag pages written per transaction: fewer, larger transactions; at most this much is redone after a kill. */
export const TAG_PAGES_PER_WRITE = 10;
/** Refs added to sync_ref_listing per statement. */
const REF_BATCH = 2_000;

export type SyncOptions = {
  db: Database;
  client: GitHubClient;
  logger: Logger;
  product: Product;
  /** The pg-boss job running the run; progress writes are fenced on it. */
  owner: string;
  /** `full` lists everything; absent, the run is incremental once the product has synced once. */
  mode?: RunMode;
  /** Aborted when the job is no longer this worker's (pg-boss handed it back): stop before the next write. */
  signal?: AbortSignal;
  /**
   * Aborted when this worker is stopping: the attempt ends after the write under way, or after the
   * page it is reading (written first), as `handed-on`, for the caller to give the run to a new job.
   */
  stopping?: AbortSignal;
};

/** Whether `error` is the stop the worker asked for (thrown by `stopping.throwIfAborted()`), not a failure. */
function isStopRequest(stopping: AbortSignal | undefined, error: unknown): boolean {
  return stopping?.aborted === true && error === stopping.reason;
}

export type SyncAttempt =
  | { outcome: 'succeeded'; result: SyncRunResult }
  | { outcome: 'deferred'; result: SyncRunResult; resetAt: Date }
  | { outcome: 'handed-on'; result: SyncRunResult }
  | { outcome: 'failed'; result: SyncRunResult; error: unknown };

/**
 * Runs (or resumes) the product's sync run. A spent rate limit ends the attempt as `deferred`
 * (progress kept), any other error as `failed` (progress kept, the error returned for the caller to
 * retry); SyncSupersededError is thrown: another job owns the run and nothing was recorded.
 */
export async function syncProduct(options: SyncOptions): Promise<SyncAttempt> {
  const started = performance.now();
  const run = await beginRun(options);
  const { db, client, product, owner, logger } = options;
  client.resetStats();
  logger.info({ product: product.name, runId: run.runId, mode: run.progress.mode, releasesFull: run.progress.releasesFull, resumed: run.resumed, phase: run.phase }, 'sync started');
  try {
    await new SyncRun(options, run).execute();
    const progress = withRequests(run.progress, client.stats());
    const result = describeRun(product.name, run.runId, progress, 'succeeded', performance.now() - started);
    await finishRun(db, product.id, owner, result);
    return { outcome: 'succeeded', result };
  } catch (error) {
    if (error instanceof SyncSupersededError) throw error;
    const progress = withRequests(run.progress, client.stats());
    const message = error instanceof Error ? error.message : String(error);
    if (isStopRequest(options.stopping, error)) {
      // Not an outcome of the run, which goes on in a new job: the product's last result stays as
      // it is; only this attempt's progress (its requests) is kept with the run.
      await saveRunProgress(db, product.id, owner, { phase: run.phase, cursor: run.cursor, progress });
      const result = describeRun(product.name, run.runId, progress, 'deferred', performance.now() - started, { error: 'the worker stopped: the run goes on in a new job' });
      return { outcome: 'handed-on', result };
    }
    if (error instanceof GitHubRateLimitedError) {
      const result = describeRun(product.name, run.runId, progress, 'deferred', performance.now() - started, { deferredUntil: error.resetAt, error: message });
      await recordRunInterruption(db, product.id, owner, { outcome: 'deferred', error: message, result, progress, deferredUntil: error.resetAt });
      return { outcome: 'deferred', result, resetAt: error.resetAt };
    }
    const result = describeRun(product.name, run.runId, progress, 'failed', performance.now() - started, { error: message });
    const recorded = await recordRunInterruption(db, product.id, owner, { outcome: 'failed', error: message, result, progress }).catch(() => false);
    if (!recorded) logger.warn({ product: product.name, err: error }, 'could not record the failed sync attempt');
    return { outcome: 'failed', result, error };
  }
}

type RunHandle = { runId: number; phase: RunPhase; cursor: string | null; listedAt: Date | null; progress: RunProgress; state: SyncState; resumed: boolean };

/** Starts a run, or takes over the product's unfinished one (unless a full run is asked over an incremental one). */
async function beginRun(options: SyncOptions): Promise<RunHandle> {
  const { db, product, owner } = options;
  return db.transaction(async (transaction) => {
    const state = await lockSyncState(transaction, product.id);
    const unfinished = state.runPhase !== null && !(options.mode === 'full' && state.runMode !== 'full');
    // Progress saved by another version of the worker may not be in the shape this one reads: that
    // run is not resumed but started over (its rows are written; only its counts are lost).
    const saved = unfinished ? runProgressSchema.safeParse(state.runProgress) : undefined;
    if (saved?.success === false) {
      options.logger.warn({ product: product.name, runId: state.runId, issues: saved.error.issues.slice(0, 3) }, 'the unfinished sync run cannot be resumed; starting a new one');
    }
    if (saved?.success) {
      const resumed = await resumeRun(transaction, product.id, owner);
      const progress = { ...saved.data, attempts: saved.data.attempts + 1 };
      return { runId: resumed.runId, phase: resumed.runPhase!, cursor: resumed.runCursor, listedAt: resumed.runListedAt, progress, state: resumed, resumed: true };
    }
    const mode: RunMode = options.mode ?? (state.lastSuccessAt === null ? 'full' : 'incremental');
    const releasesFull = mode === 'full' || state.releasesFullAt === null || state.now.getTime() - state.releasesFullAt.getTime() >= FULL_RELEASE_PASS_INTERVAL_MS;
    const progress = newProgress(mode, releasesFull);
    progress.attempts = 1;
    const begun = await startRun(transaction, product.id, { owner, mode, progress });
    return { runId: begun.runId, phase: 'tags', cursor: null, listedAt: begun.runListedAt, progress, state: begun, resumed: false };
  });
}

class SyncRun {
  readonly #options: SyncOptions;
  readonly #run: RunHandle;
  readonly #repository: RepositoryRef;
  #identity: RepositoryIdentity | undefined;
  #identityRecorded = false;

  constructor(options: SyncOptions, run: RunHandle) {
    this.#options = options;
    this.#run = run;
    this.#repository = repositoryPath(options.product);
  }

  get #product(): Product {
    return this.#options.product;
  }

  get #progress(): RunProgress {
    return this.#run.progress;
  }

  async execute(): Promise<void> {
    if (this.#run.phase === 'tags') await this.#syncTags();
    if (this.#run.phase === 'releases') await this.#syncReleases();
  }

  /**
   * One write transaction: the product's lock, the change source, `work`, then the run's progress
   * (fenced on the owner). `work` returns the progress to save, built from the current one.
   */
  async #write(
    work: (db: Queryable) => Promise<Omit<ProgressUpdate, 'progress'> & { progress: RunProgress }>,
    options: { tagListing?: boolean } = {},
  ): Promise<void> {
    const started = performance.now();
    this.#options.signal?.throwIfAborted();
    const update = await this.#options.db.transaction(async (transaction) => {
      await beginReleaseWrite(transaction, this.#product.id, 'sync');
      // GitHub reads in `work` happen under the lock, and are bounded accordingly.
      const next = await whileLockHeld(() => work(transaction));
      if (this.#identity !== undefined && !this.#identityRecorded) {
        await recordRepositoryIdentity(transaction, [this.#product.id], { id: this.#identity.databaseId, fullName: this.#identity.nameWithOwner });
      }
      await saveRunProgress(transaction, this.#product.id, this.#options.owner, next);
      return next;
    });
    // Only once committed: an attempt that fails records the progress of what is in the database.
    this.#run.progress = update.progress;
    this.#run.phase = update.phase;
    this.#run.cursor = update.cursor;
    if (this.#identity !== undefined) this.#identityRecorded = true;
    // Whole transactions, commit included; saved with the next write.
    const elapsed = performance.now() - started;
    const progress = this.#run.progress;
    this.#run.progress = {
      ...progress,
      writeMs: progress.writeMs + elapsed,
      tagListingWriteMs: (progress.tagListingWriteMs ?? 0) + (options.tagListing ? elapsed : 0),
    };
    // Committed: a stopping worker hands the run on from here (the caller records the interruption).
    this.#options.stopping?.throwIfAborted();
  }

  // --- tags ------------------------------------------------------------------------------------

  async #syncTags(): Promise<void> {
    const progress = this.#progress;
    // A listing half staged when the last attempt stopped is taken again from its probe.
    if (progress.tagStep === 'read' || progress.tagStep === 'tombstone') return this.#readAndTombstone();
    if (progress.mode === 'full') {
      if (progress.tagStep === 'probe') await this.#probeBeforeFullListing();
      if (this.#progress.tagStep === 'list') await this.#listAllTags();
      return this.#recheckAfterFullListing();
    }
    const probe = await streamTagRefs(this.#options.client, this.#repository, { etag: this.#run.state.tagsEtag });
    if (probe.notModified) {
      await this.#write(async () => ({ phase: 'releases', cursor: null, progress: this.#progress }));
      return;
    }
    await this.#stageListing(probe);
    await this.#readAndTombstone();
  }

  /** Full mode: the refs ETag before the listing, so a change during the listing is seen afterwards. */
  async #probeBeforeFullListing(): Promise<void> {
    // The run's (or this attempt's) start, taken by the database before the probe is sent.
    const probedAt = this.#run.listedAt?.toISOString();
    const probe = await streamTagRefs(this.#options.client, this.#repository);
    const etag = probe.etag;
    if (!probe.notModified) await probe.discard();
    await this.#write(async () => ({
      phase: 'tags',
      cursor: null,
      progress: { ...this.#progress, tagStep: 'list', tagsProbeEtag: etag, ...(probedAt === undefined ? {} : { tagsProbedAt: probedAt }) },
    }));
  }

  /**
   * Every tag with its dates, 100 per GraphQL query, written TAG_PAGES_PER_WRITE pages per
   * transaction while the next pages are fetched. The cursor saved with a batch is where a resumed
   * run goes on.
   */
  async #listAllTags(): Promise<void> {
    const perWrite = TAG_PAGES_PER_WRITE * 100;
    let buffer: TagFact[] = [];
    let dropped = 0;
    let cursor = this.#run.cursor;
    let inflight: Promise<void> | undefined;
    const flush = (tags: TagFact[], droppedHere: number, endCursor: string | null) => {
      const previous = inflight;
      const write = (async () => {
        // A write that committed and then saw the worker stopping threw the stop: what it wrote
        // stands, and the pages read since are written all the same.
        await previous?.catch((error: unknown) => {
          if (!isStopRequest(this.#options.stopping, error)) throw error;
        });
        await this.#write(async (db) => {
          const { added, updated, moved, revived, unchanged, skipped } = await upsertTags(db, this.#product, tags, { syncRunId: this.#run.runId });
          return {
            phase: 'tags',
            cursor: endCursor,
            progress: {
              ...this.#progress,
              counts: withCounts(this.#progress, {
                tags: { listed: tags.length, added, updated, moved, revived, unchanged, skipped, dropped: droppedHere },
              }),
            },
          };
        }, { tagListing: true });
      })();
      // Awaited before the next write or at the end; never left unobserved meanwhile.
      write.catch(() => undefined);
      inflight = write;
    };
    try {
      for await (const page of tagPages(this.#options.client, this.#repository, { after: cursor })) {
        this.#identity ??= page.repository;
        buffer.push(...page.tags);
        dropped += page.dropped;
        cursor = page.endCursor;
        // A stopping worker does not read the rest of the batch: what was read is written below.
        this.#options.stopping?.throwIfAborted();
        if (buffer.length >= perWrite) {
          // At most one write in flight while the next batch is read: memory stays bounded when
          // GitHub answers faster than the database writes.
          await inflight;
          flush(buffer, dropped, cursor);
          buffer = [];
          dropped = 0;
        }
      }
      if (buffer.length > 0 || dropped > 0 || inflight === undefined) flush(buffer, dropped, cursor);
    } catch (error) {
      // GitHub stopped answering (a spent rate limit, an outage): keep the pages already read, so
      // the next attempt goes on after them.
      if (buffer.length > 0) flush(buffer, dropped, cursor);
      await inflight?.catch(() => undefined);
      throw error;
    }
    await inflight;
    await this.#write(async () => ({ phase: 'tags', cursor: null, progress: { ...this.#progress, tagStep: 'recheck' } }));
  }

  /**
   * Full mode, after the listing: the refs probe asked with the ETag taken before it. 304: no tag
   * changed meanwhile, so the listing is a consistent snapshot and the tags it did not list are
   * gone. 200: tags changed while the pages were read (GraphQL cursors are positions, so a page
   * may have missed one); the new refs listing is compared with the rows instead.
   */
  async #recheckAfterFullListing(): Promise<void> {
    const etag = this.#progress.tagsProbeEtag ?? null;
    // Unchanged refs (304): the listing compared with the rows is the run's pages, read since the
    // first probe; a tag found present since then (a webhook revived it) is spared.
    const pagesFrom = this.#progress.tagsProbedAt === undefined ? (this.#run.listedAt ?? new Date(0)) : new Date(this.#progress.tagsProbedAt);
    // Changed refs (200): the listing compared with the rows is the one this request answers; only
    // a tag found present after this moment escapes the tombstone step, not the rows this run's
    // own pages wrote before.
    this.#run.listedAt = await markListingTaken(this.#options.db, this.#product.id, this.#options.owner);
    const probe = await streamTagRefs(this.#options.client, this.#repository, { etag });
    if (probe.notModified) {
      await this.#write(async (db) => {
        const complete = this.#progress.counts.tags.dropped === 0;
        const tombstoned = complete ? await tombstoneTagsNotSeenInRun(db, this.#product.id, this.#run.runId, pagesFrom) : 0;
        return {
          phase: 'releases',
          cursor: null,
          // An incomplete listing stores no ETag: the next run compares every ref again.
          tagsEtag: complete ? etag : null,
          progress: { ...this.#progress, tagStep: 'tombstone', counts: withCounts(this.#progress, { tags: { tombstoned } }) },
        };
      });
      return;
    }
    await this.#stageListing(probe);
    await this.#readAndTombstone();
  }

  /** Streams a refs listing into sync_ref_listing (the product's tags only), a batch per statement. */
  async #stageListing(probe: Extract<TagRefStream, { notModified: false }>): Promise<void> {
    const { db } = this.#options;
    await this.#write(async (transaction) => {
      await clearRefListing(transaction, this.#product.id);
      // Until the listing is staged whole, a resumed attempt takes it again from the probe.
      const { staged: _staged, ...rest } = this.#progress;
      return { phase: 'tags', cursor: null, progress: { ...rest, tagStep: rest.mode === 'full' ? 'recheck' : 'probe' } };
    });
    let listed = 0;
    let skipped = 0;
    let batch: Array<{ name: string; sha: string }> = [];
    for await (const refs of probe.batches) {
      for (const ref of refs) {
        if (parseTag(ref.name, this.#product.tagPattern) === null) {
          skipped += 1;
          continue;
        }
        batch.push({ name: ref.name, sha: ref.sha });
      }
      if (batch.length >= REF_BATCH) {
        await addToRefListing(db, this.#product.id, this.#options.owner, batch);
        listed += batch.length;
        batch = [];
      }
    }
    const dropped = probe.dropped();
    await this.#write(async (transaction) => {
      await addToRefListing(transaction, this.#product.id, this.#options.owner, batch);
      listed += batch.length;
      const counts = this.#progress.counts;
      return {
        phase: 'tags',
        cursor: null,
        progress: {
          ...this.#progress,
          tagStep: 'read',
          staged: { etag: probe.etag, complete: probe.complete() },
          counts: {
            ...counts,
            tags: {
              ...counts.tags,
              listed: Math.max(counts.tags.listed, listed),
              skipped: this.#progress.mode === 'full' ? counts.tags.skipped : counts.tags.skipped + skipped,
              dropped: counts.tags.dropped + dropped,
            },
          },
        },
      };
    });
  }

  /**
   * Reads again, by name and 100 per GraphQL query, the listed tags whose rows are missing, moved or
   * tombstoned; then tombstones the rows the listing does not name (only after a complete listing)
   * and stores the listing's ETag with them.
   */
  async #readAndTombstone(): Promise<void> {
    if (this.#progress.staged === undefined) {
      // The last attempt stopped while staging: start the tag phase over from its probe.
      await this.#write(async () => ({ phase: 'tags', cursor: null, progress: { ...this.#progress, tagStep: this.#progress.mode === 'full' ? 'recheck' : 'probe' } }));
      return this.#syncTags();
    }
    if (this.#progress.tagStep === 'read') {
      for (;;) {
        const names = await listedTagsToRead(this.#options.db, this.#product.id, this.#run.cursor, TAG_STATES_BATCH);
        if (names.length === 0) break;
        await this.#write(async (db) => {
          // Read under the product's lock: a webhook writing the same tags waits, so the newer read wins.
          const states = await fetchTagStates(this.#options.client, this.#repository, names);
          this.#identity ??= states.repository;
          const { added, updated, moved, revived, unchanged, tombstoned } = await writeTagPresence(db, this.#product, states.states);
          return {
            phase: 'tags',
            cursor: names.at(-1)!,
            progress: {
              ...this.#progress,
              counts: withCounts(this.#progress, { tags: { read: names.length, added, updated, moved, revived, unchanged, tombstoned } }),
            },
          };
        });
        if (names.length < TAG_STATES_BATCH) break;
      }
    }
    const staged = this.#progress.staged;
    await this.#write(async (db) => {
      const tombstoned = staged.complete ? await tombstoneTagsNotInRefListing(db, this.#product.id, this.#run.listedAt ?? new Date(0)) : 0;
      await clearRefListing(db, this.#product.id);
      return {
        phase: 'releases',
        cursor: null,
        tagsEtag: staged.complete ? staged.etag : null,
        progress: { ...this.#progress, tagStep: 'tombstone', counts: withCounts(this.#progress, { tags: { tombstoned } }) },
      };
    });
  }

  // --- releases --------------------------------------------------------------------------------

  /**
   * Full pass: every page, unconditionally. Incremental: the first page asked with the stored ETag
   * (304: nothing new), then page on only until a page holds a release stored unchanged that an
   * earlier sync run listed.
   * Then the releases not listed within the part of the listing read are checked, and deleted.
   */
  async #syncReleases(): Promise<void> {
    const full = this.#progress.releasesFull;
    const resumeAfter = full && this.#run.cursor !== null ? Number(this.#run.cursor) : 0;
    // Every page is read under the product's lock, the first (conditional) one included: a webhook
    // writing the same releases waits, so the newer read is the one that stays.
    let pages: AsyncGenerator<ReleasePage> | undefined;
    let notModifiedEtag: string | undefined;
    try {
      for (;;) {
        let stop = false;
        let ended = false;
        await this.#write(async (db) => {
          if (pages === undefined) {
            const listing = await fetchReleasePages(this.#options.client, this.#repository, {
              etag: full ? null : this.#run.state.releasesEtag,
              startPage: resumeAfter + 1,
              pastCap: full,
            });
            if (listing.notModified) {
              notModifiedEtag = listing.etag;
              return { phase: 'releases', cursor: this.#run.cursor, progress: this.#progress };
            }
            pages = listing.pages;
            if (resumeAfter === 0) this.#run.progress = { ...this.#progress, releasesEtag: listing.etag, releasesOldest: null, releasesReachedEnd: false };
          }
          const next = await pages.next();
          if (next.done) {
            ended = true;
            return { phase: 'releases', cursor: this.#run.cursor, progress: { ...this.#progress, releasesReachedEnd: true } };
          }
          const page = next.value;
          const written = await upsertGithubReleases(db, this.#product.id, page.releases, { syncRunId: this.#run.runId });
          const oldest = page.releases.reduce<string | null>((min, release) => {
            const created = release.createdAt?.toISOString() ?? null;
            return created !== null && (min === null || created < min) ? created : min;
          }, this.#progress.releasesOldest ?? null);
          // Not any unchanged release: one this run wrote before (an attempt that failed on a later
          // page) or a webhook stored says nothing of what is older. An incremental pass that met
          // GitHub's REST cap stops there, short of the end.
          stop = (!full && written.confirmed > 0) || page.capped === true;
          ended = !page.hasNextPage && page.capped !== true;
          return {
            phase: 'releases',
            cursor: String(page.page),
            progress: {
              ...this.#progress,
              releasesOldest: oldest,
              releasesReachedEnd: ended,
              counts: withCounts(this.#progress, {
                releases: {
                  pages: 1,
                  listed: page.releases.length,
                  added: written.added,
                  updated: written.written - written.added,
                  unchanged: written.unchanged,
                  dropped: page.dropped,
                },
              }),
            },
          };
        });
        if (notModifiedEtag !== undefined || stop || ended) break;
      }
    } finally {
      await pages?.return(undefined);
    }
    if (notModifiedEtag !== undefined) return this.#finishReleases({ etag: notModifiedEtag, checkDeletions: false });
    await this.#finishReleases({ etag: this.#progress.releasesEtag ?? null, checkDeletions: true });
  }

  /**
   * Releases this run did not list, within the part of the listing it read, are candidates for
   * deletion. A listing can miss one when a deletion shifts the pages while they are read, so each
   * candidate is checked by its tag (GraphQL `release(tagName:)`, 100 per query) before it is
   * marked deleted. A listing with unparseable items deletes nothing.
   */
  async #finishReleases(options: { etag: string | null; checkDeletions: boolean }): Promise<void> {
    const progress = this.#progress;
    if (options.checkDeletions && progress.counts.releases.dropped === 0) {
      const createdAfter = progress.releasesReachedEnd ? null : progress.releasesOldest ? new Date(progress.releasesOldest) : undefined;
      const candidates = createdAfter === undefined ? [] : await findUnseenReleases(this.#options.db, this.#product.id, this.#run.runId, createdAfter);
      for (let start = 0; start < candidates.length; start += TAG_STATES_BATCH) {
        const batch = candidates.slice(start, start + TAG_STATES_BATCH);
        await this.#write(async (db) => {
          const states = await fetchTagStates(this.#options.client, this.#repository, batch.map((candidate) => candidate.tagName));
          const current = new Set(states.states.flatMap((state) => state.releases.map((release) => release.id)));
          const gone = batch.filter((candidate) => !current.has(candidate.id)).map((candidate) => candidate.id);
          const deleted = await deleteGithubReleases(db, this.#product.id, gone);
          return {
            phase: 'releases',
            cursor: this.#run.cursor,
            progress: { ...this.#progress, counts: withCounts(this.#progress, { releases: { deleted } }) },
          };
        });
      }
    }
    const complete = this.#progress.counts.releases.dropped === 0;
    await this.#write(async () => ({
      phase: 'finishing',
      cursor: null,
      ...(complete ? { releasesEtag: options.etag } : { releasesEtag: null }),
      ...(this.#progress.releasesFull && complete ? { releasesFullAt: 'now' as const } : {}),
      progress: this.#progress,
    }));
  }
}
