import { z } from 'zod';
import { SYNC_OUTCOMES, type RunMode } from '../db/sync-state.ts';
import type { RequestStats } from '../github/request-accounting.ts';

// What a sync run keeps in sync_state.run_progress between its transactions (so a resumed run goes
// on where the last one stopped) and reports in sync_state.last_result when it ends.

export type TagCounts = {
  /** Tags listed (GraphQL pages, or refs of a listing that match the product's pattern). */
  listed: number;
  added: number;
  updated: number;
  moved: number;
  revived: number;
  unchanged: number;
  tombstoned: number;
  /** Tags whose names are not releases of the product (pattern or SemVer). */
  skipped: number;
  /** Items GitHub answered that did not parse: the listing was incomplete. */
  dropped: number;
  /** Tags read again by name (new or moved since the stored listing). */
  read: number;
};

export type ReleaseCounts = { listed: number; added: number; updated: number; unchanged: number; deleted: number; dropped: number; pages: number };

export type SyncCounts = { tags: TagCounts; releases: ReleaseCounts };

/** The step of the tag phase a run is at; `run_cursor` means a GraphQL cursor in `list`, a tag name in `read`. */
export type TagStep = 'probe' | 'list' | 'recheck' | 'read' | 'tombstone';

export type RunProgress = {
  mode: RunMode;
  /** Whether this run lists every release (mode full, or the periodic full pass is due). */
  releasesFull: boolean;
  tagStep: TagStep;
  /** Full mode: the ETag of the refs probe taken before the listing. */
  tagsProbeEtag?: string | null;
  /** The refs listing in sync_ref_listing: its ETag, and whether every item parsed. */
  staged?: { etag: string | null; complete: boolean };
  /** ETag of the first release page of this run's listing (taken before paging on). */
  releasesEtag?: string | null;
  /** created_at of the oldest release listed so far (ISO), and whether the listing reached its end. */
  releasesOldest?: string | null;
  releasesReachedEnd?: boolean;
  counts: SyncCounts;
  /** Attempts of this run (a retry or a resumed deferral adds one). */
  attempts: number;
  /** GitHub requests of the finished attempts of this run. */
  requests: { total: number; notModified: number; points: { core: number; graphql: number } };
  /** Milliseconds spent in write transactions (for the write throughput). */
  writeMs: number;
  /** Of which in the transactions that write GraphQL tag pages (no GitHub request inside). */
  tagListingWriteMs?: number;
};

// The same shapes as zod schemas: run_progress is read back by a later attempt (maybe of another
// version of the worker), and a job's output by `sync --wait`; both cross that boundary parsed.
const count = z.number().int().nonnegative();
const runModeSchema = z.enum(['full', 'incremental']);
const tagCountsSchema = z.object({
  listed: count,
  added: count,
  updated: count,
  moved: count,
  revived: count,
  unchanged: count,
  tombstoned: count,
  skipped: count,
  dropped: count,
  read: count,
}) satisfies z.ZodType<TagCounts>;
const releaseCountsSchema = z.object({ listed: count, added: count, updated: count, unchanged: count, deleted: count, dropped: count, pages: count }) satisfies z.ZodType<ReleaseCounts>;

export const runProgressSchema = z.object({
  mode: runModeSchema,
  releasesFull: z.boolean(),
  tagStep: z.enum(['probe', 'list', 'recheck', 'read', 'tombstone']),
  tagsProbeEtag: z.string().nullable().optional(),
  staged: z.object({ etag: z.string().nullable(), complete: z.boolean() }).optional(),
  releasesEtag: z.string().nullable().optional(),
  releasesOldest: z.string().nullable().optional(),
  releasesReachedEnd: z.boolean().optional(),
  counts: z.object({ tags: tagCountsSchema, releases: releaseCountsSchema }),
  attempts: count,
  requests: z.object({ total: count, notModified: count, points: z.object({ core: count, graphql: count }) }),
  writeMs: z.number().nonnegative(),
  tagListingWriteMs: z.number().nonnegative().optional(),
}) satisfies z.ZodType<RunProgress>;

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

/** What sync_state.last_result and the job's output say about a run (or an attempt of it). */
export type SyncRunResult = {
  product: string;
  runId: number;
  mode: RunMode;
  releasesPass: 'full' | 'incremental';
  outcome: 'succeeded' | 'failed' | 'deferred';
  tags: TagCounts;
  releases: ReleaseCounts;
  /** GitHub requests of the whole run, 304s among them, and rate-limit points spent. */
  requests: number;
  notModified: number;
  points: { core: number; graphql: number; total: number };
  attempts: number;
  /** Wall time of this attempt. */
  durationMs: number;
  writeMs: number;
  tagListingWriteMs: number;
  deferredUntil?: string;
  error?: string;
};

/** SyncRunResult (describeRun), as sync_state.last_result and a job's output hold it. */
export const syncRunResultSchema = z.object({
  product: z.string(),
  runId: z.number().int(),
  mode: runModeSchema,
  releasesPass: runModeSchema,
  outcome: z.enum(SYNC_OUTCOMES),
  tags: tagCountsSchema,
  releases: releaseCountsSchema,
  requests: count,
  notModified: count,
  points: z.object({ core: count, graphql: count, total: count }),
  attempts: count,
  durationMs: count,
  writeMs: count,
  tagListingWriteMs: count,
  deferredUntil: z.string().optional(),
  error: z.string().optional(),
}) satisfies z.ZodType<SyncRunResult>;

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
