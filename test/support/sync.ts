import { randomUUID } from 'node:crypto';
import type { JobWithMetadata, PgBoss } from 'pg-boss';
import semver from 'semver';
import { sql } from 'slonik';
import { z } from 'zod';
import type { Database } from '../../src/db/pool.ts';
import type { Product } from '../../src/db/products.ts';
import { readSyncState } from '../../src/db/sync-state.ts';
import type { GitHubClient } from '../../src/github/client.ts';
import type { ProductDefinition } from '../../src/products.ts';
import { createBoss, installQueues, QUEUES } from '../../src/queues.ts';
import { syncProduct, type SyncAttempt } from '../../src/sync/sync-product.ts';
import { startSyncWorker } from '../../workers/sync-worker.ts';
import { quietLogger } from './database.ts';
import { eventually } from './eventually.ts';
import type { FakeGitHub, FakeRepository, ReleaseRecord } from './fake-github/index.ts';
import type { FixtureTag } from './fixtures.ts';
import { fakeClient } from './github.ts';
import type { ReleaseRow } from './release-rows.ts';
import { defineProducts as defineFullProducts, productDefinition } from './seed.ts';

// Helpers for the sync tests: products, a sync run against the fake GitHub, the rows it left, and
// what those rows must be, computed from the fixture (with `semver`) and the fake's releases
// independently of the code under test.

/** Makes the products table hold exactly these products (seed.ts's defaults for what is not given). */
export async function defineProducts(db: Database, definitions: ReadonlyArray<Partial<ProductDefinition> & { name: string; repository: string }>): Promise<Map<string, Product>> {
  return defineFullProducts(db, definitions.map((definition) => productDefinition(definition.name, definition)));
}

/** One sync attempt of `product` against the fake, as a job with a fresh id would run it. */
export async function runSync(
  db: Database,
  fake: FakeGitHub,
  product: Product,
  options: { mode?: 'full' | 'incremental'; client?: GitHubClient; owner?: string } = {},
): Promise<SyncAttempt> {
  return syncProduct({
    db,
    client: options.client ?? fakeClient(fake),
    logger: quietLogger,
    product,
    owner: options.owner ?? randomUUID(),
    ...(options.mode ? { mode: options.mode } : {}),
  });
}

export async function syncState(db: Database, productId: number) {
  const state = await readSyncState(db, productId);
  if (state === null) throw new Error(`no sync state for product ${productId}`);
  return state;
}

/** Rows of the change log of a product (a re-sync that changes nothing must add none). */
export async function changeCount(db: Database, productId: number): Promise<number> {
  return db.oneFirst(sql.type(z.object({ count: z.number() }))`SELECT count(*)::int AS count FROM release_changes WHERE product_id = ${productId}`);
}

export type ExpectedRow = Pick<
  ReleaseRow,
  'tag' | 'version' | 'refSha' | 'gitSha' | 'taggedAt' | 'public' | 'isDevelopment' | 'promotedAt' | 'isCanonical' | 'deleted' | 'githubReleaseId'
>;

/**
 * The version a tag carries under the default pattern (an optional `v`, then SemVer 2.0), decided
 * by the `semver` package alone; null for other tags.
 */
export function expectedVersion(name: string): { version: string; prerelease: boolean; build: boolean } | null {
  const text = name.startsWith('v') ? name.slice(1) : name;
  if (!/^\d/.test(text)) return null;
  const parsed = semver.parse(text);
  if (parsed === null) return null;
  return { version: parsed.version, prerelease: parsed.prerelease.length > 0, build: parsed.build.length > 0 };
}

/**
 * What the releases rows of a fixture repository must be after a complete sync (src/domain/README.md):
 * shas and dates from the fixture, release fields from the fake's releases, canonical by the rule.
 */
export function expectedRows(tags: readonly FixtureTag[], repo: FakeRepository, options: { plainTagsPublic?: boolean } = {}): Map<string, ExpectedRow> {
  const rows = new Map<string, ExpectedRow & { build: boolean }>();
  for (const tag of tags) {
    const version = expectedVersion(tag.name);
    if (version === null) continue;
    // The release of a tag: a non-draft beats a draft, then the newest published, then the highest id.
    const release = [...repo.releasesOfTag(tag.name)].sort(
      (a, b) => Number(a.draft) - Number(b.draft) || (b.publishedAt?.getTime() ?? -Infinity) - (a.publishedAt?.getTime() ?? -Infinity) || b.id - a.id,
    )[0] as ReleaseRecord | undefined;
    const released = release !== undefined && !release.draft && release.publishedAt !== null;
    const taggedAt = tag.date === null ? null : new Date(tag.date);
    rows.set(tag.name, {
      tag: tag.name,
      version: version.version,
      refSha: tag.object_sha,
      gitSha: tag.peeled_type === 'commit' ? tag.peeled_sha : null,
      taggedAt,
      public: released || (options.plainTagsPublic ?? false),
      isDevelopment: version.prerelease || (released && release.prerelease),
      promotedAt: released ? release.publishedAt : options.plainTagsPublic ? taggedAt : null,
      isCanonical: false,
      deleted: false,
      githubReleaseId: release?.id ?? null,
      build: version.build,
    });
  }
  const byVersion = new Map<string, Array<ExpectedRow & { build: boolean }>>();
  for (const row of rows.values()) byVersion.set(row.version, [...(byVersion.get(row.version) ?? []), row]);
  for (const [version, candidates] of byVersion) {
    const rank = (row: ExpectedRow & { build: boolean }) => [Number(row.deleted), Number(!row.public), Number(row.build), Number(row.tag !== `v${version}`), Number(row.tag !== version)];
    candidates.sort((a, b) => {
      const [ra, rb] = [rank(a), rank(b)];
      for (let index = 0; index < ra.length; index += 1) if (ra[index] !== rb[index]) return ra[index]! - rb[index]!;
      return Buffer.compare(Buffer.from(a.tag), Buffer.from(b.tag));
    });
    candidates[0]!.isCanonical = true;
  }
  return new Map([...rows].map(([name, { build: _build, ...row }]) => [name, row]));
}

/** A row as compared with an expectation (dates as epoch milliseconds). */
export function comparable(row: ExpectedRow | ReleaseRow | undefined) {
  if (row === undefined) return undefined;
  return {
    tag: row.tag,
    version: row.version,
    refSha: row.refSha,
    gitSha: row.gitSha,
    taggedAt: row.taggedAt?.getTime() ?? null,
    public: row.public,
    isDevelopment: row.isDevelopment,
    promotedAt: row.promotedAt?.getTime() ?? null,
    isCanonical: row.isCanonical,
    deleted: row.deleted,
    githubReleaseId: row.githubReleaseId,
  };
}

/** Polls `check` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  return (await eventually(check, (value) => value !== undefined, what, timeoutMs))!;
}

/**
 * Sync job `id` once it has completed or failed. `supervise`: run pg-boss's supervision pass while
 * waiting (workers run it every 15 s; a killed worker's job is handed on by it).
 */
export async function settledSyncJob<T extends JobWithMetadata<unknown> = JobWithMetadata<unknown>>(
  boss: PgBoss,
  id: string,
  options: { boundMs?: number; supervise?: boolean } = {},
): Promise<T> {
  return waitFor(
    `sync job ${id} to complete or fail`,
    async () => {
      if (options.supervise) await boss.supervise(QUEUES.syncProduct);
      const [job] = (await boss.findJobs(QUEUES.syncProduct, { id })) as T[];
      return job?.state === 'completed' || job?.state === 'failed' ? job : undefined;
    },
    options.boundMs ?? 60_000,
  );
}

/**
 * pg-boss installed in the test database, a boss on it, and the sync handler working the queue
 * with a client of the fake. `queue` overrides the sync queue's options (tests shorten retries).
 */
export async function startTestSyncWorker(
  database: { url: string; db: Database },
  fake: FakeGitHub,
  options: { queue?: Record<string, unknown>; client?: () => GitHubClient; work?: boolean; stopping?: AbortSignal } = {},
) {
  await installQueues(database.url, quietLogger);
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'release-registry-test-boss', maxConnections: 4, supervise: true });
  await boss.start();
  if (options.queue) await boss.updateQueue(QUEUES.syncProduct, options.queue);
  if (options.work ?? true) {
    await startSyncWorker({
      db: database.db,
      boss,
      logger: quietLogger,
      createClient: options.client ?? (() => fakeClient(fake)),
      pollingIntervalSeconds: 0.5,
      ...(options.stopping ? { stopping: options.stopping } : {}),
    });
  }
  return { boss, stop: () => boss.stop({ graceful: false, close: true }) };
}
