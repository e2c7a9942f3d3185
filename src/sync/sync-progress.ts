import { z } from 'zod';
import { SYNC_OUTCOMES, type RunMode } from '../db/sync-state.ts';
import type { RequestStats } from '../github/request-accounting.ts';

// What a sync run keeps in sync_state.run_progress between its transactions (so a resumed run goes
// on where the last one stopped) and reports in sync_state.last_result when it ends. Zod schemas,
// the types derived from them: run_progress is read back by a later attempt (maybe of another
// version of the worker), and a job's output by `sync --wait`; both cross that boundary parsed.
const count = z.number().int().nonnegative();
const runModeSchema = z.enum(['full', 'incremental']) satisfies z.ZodType<RunMode>;

const tagCountsSchema = z.object({
  /** Tags listed (GraphQL pages, or refs of a listing that match the product's pattern). */
  listed: count,
  added: count,
  updated: count,
  moved: count,
  revived: count,
  unchanged: count,
  tombstoned: count,
  /** Tags whose names are not releases of the product (pattern or SemVer). */
  skipped: count,
  /** Items GitHub answered that did not parse: the listing was incomplete. */
  dropped: count,
  /** Tags read again by name (new or moved since the stored listing). */
  read: count,
});
export type TagCounts = z.infer<typeof tagCountsSchema>;

const releaseCountsSchema = z.object({ listed: count, added: count, updated: count, unchanged: count, deleted: count, dropped: count, pages: count });
export type ReleaseCounts = z.infer<typeof releaseCountsSchema>;

export type SyncCounts = { tags: TagCounts; releases: ReleaseCounts };

export const runProgressSchema = z.object({
  mode: runModeSchema,
  /** Whether this run lists every release (mode full, or the periodic full pass is due). */
  releasesFull: z.boolean(),
  /** The step of the tag phase a run is at; `run_cursor` means a GraphQL cursor in `list`, a tag name in `read`. */
  tagStep: z.enum(['probe', 'list', 'recheck', 'read', 'tombstone']),
  /** Full mode: the ETag of the refs probe taken before the listing. */
  tagsProbeEtag: z.string().nullable().optional(),
  /**
   * Full mode: the database time before that probe. Should the recheck find the refs unchanged,
   * the listing compared with the rows is the run's pages, read since then: a tag found present
   * since is spared.
   */
  tagsProbedAt: z.iso.datetime({ offset: true }).optional(),
  /** The refs listing in sync_ref_listing: its ETag, and whether every item parsed. */
  staged: z.object({ etag: z.string().nullable(), complete: z.boolean() }).optional(),
  /** ETag of the first release page of this run's listing (taken before paging on). */
  releasesEtag: z.string().nullable().optional(),
  /** created_at of the oldest release listed so far (ISO), and whether the listing reached its end. */
  releasesOldest: z.string().nullable().optional(),
  releasesReachedEnd: z.boolean().optional(),
  counts: z.object({ tags: tagCountsSchema, releases: releaseCountsSchema }),
  /** Attempts of this run (a retry or a resumed deferral adds one). */
  attempts: count,
  /** GitHub requests of the finished attempts of this run. */
  requests: z.object({ total: count, notModified: count, points: z.object({ core: count, graphql: count }) }),
  /** Milliseconds spent in write transactions (for the write throughput). */
  writeMs: z.number().nonnegative(),
  /** Of which in the transactions that write GraphQL tag pages (no GitHub request inside). */
  tagListingWriteMs: z.number().nonnegative().optional(),
});
export type RunProgress = z.infer<typeof runProgressSchema>;

export function emptyCounts(): SyncCounts {
  return {
    tags: { listed: 0, added: 0, updated: 0, moved: 0, revived: 0, unchanged: 0, tombstoned: 0, skipped: 0, dropped: 0, read: 0 },
    releases: { listed: 0, added: 0, updated: 0, unchanged: 0, deleted: 0, dropped: 0, pages: 0 },
  };
}

export function newProgress(mode: RunMode, releasesFull: boolean): RunProgress {
  return {
    mode,
    releasesFull,
    tagStep: 'probe',
    counts: emptyCounts(),
    attempts: 0,
    requests: { total: 0, notModified: 0, points: { core: 0, graphql: 0 } },
    writeMs: 0,
  };
}

/** The run's counts with `tags` and `releases` increments added (absent keys add nothing). */
export function withCounts(progress: RunProgress, added: { tags?: Partial<TagCounts>; releases?: Partial<ReleaseCounts> }): SyncCounts {
  const { tags, releases } = progress.counts;
  return {
    tags: sum(tags, added.tags ?? {}),
    releases: sum(releases, added.releases ?? {}),
  };
}

function sum<T extends Record<string, number>>(base: T, increments: Partial<T>): T {
  const result: Record<string, number> = { ...base };
  for (const [key, value] of Object.entries(increments)) {
    if (value !== undefined) result[key] = (result[key] ?? 0) + value;
  }
  return result as T;
}

/** Adds an attempt's GitHub requests to the run's. */
export function withRequests(progress: RunProgress, stats: RequestStats): RunProgress {
  return {
    ...progress,
    requests: {
      total: progress.requests.total + stats.requests,
      notModified: progress.requests.notModified + stats.notModified,
      points: { core: progress.requests.points.core + stats.points.core, graphql: progress.requests.points.graphql + stats.points.graphql },
    },
  };
}

/** What sync_state.last_result and the job's output say about a run (or an attempt of it): describeRun. */
export const syncRunResultSchema = z.object({
  product: z.string(),
  runId: z.number().int(),
  mode: runModeSchema,
  releasesPass: runModeSchema,
  outcome: z.enum(SYNC_OUTCOMES),
  tags: tagCountsSchema,
  releases: releaseCountsSchema,
  /** GitHub requests of the whole run, 304s among them, and rate-limit points spent. */
  requests: count,
  notModified: count,
  points: z.object({ core: count, graphql: count, total: count }),
  attempts: count,
  /** Wall time of this attempt. */
  durationMs: count,
  writeMs: count,
  tagListingWriteMs: count,
  deferredUntil: z.string().optional(),
  error: z.string().optional(),
});
export type SyncRunResult = z.infer<typeof syncRunResultSchema>;

export function describeRun(
  product: string,
  runId: number,
  progress: RunProgress,
  outcome: SyncRunResult['outcome'],
  durationMs: number,
  extra: { deferredUntil?: Date; error?: string } = {},
): SyncRunResult {
  const { points } = progress.requests;
  return {
    product,
    runId,
    mode: progress.mode,
    releasesPass: progress.releasesFull ? 'full' : 'incremental',
    outcome,
    tags: progress.counts.tags,
    releases: progress.counts.releases,
    requests: progress.requests.total,
    notModified: progress.requests.notModified,
    points: { core: points.core, graphql: points.graphql, total: points.core + points.graphql },
    attempts: progress.attempts,
    durationMs: Math.round(durationMs),
    writeMs: Math.round(progress.writeMs),
    tagListingWriteMs: Math.round(progress.tagListingWriteMs ?? 0),
    ...(extra.deferredUntil ? { deferredUntil: extra.deferredUntil.toISOString() } : {}),
    ...(extra.error ? { error: extra.error } : {}),
  };
}
