import type { PgBoss } from 'pg-boss';
import { sql } from 'slonik';
import { z } from 'zod';
import type { Queryable } from '../../src/db/pool.ts';
import type { ProductDefinition } from '../../src/products.ts';
import { createBoss } from '../../src/queues.ts';
import type { GithubReleaseFact, TagFact } from '../../src/db/releases.ts';
import { githubTagStateReader, type TagStateReader } from '../../src/webhooks/tag-states.ts';
import { startDeliveryWorker, type DeliveryWorkerOptions } from '../../workers/delivery-worker.ts';
import { quietLogger } from './database.ts';
import { startFakeGitHub, type FakeGitHub, type FakeRepository } from './fake-github/index.ts';
import { releaseHtmlUrl } from './fake-github/rest-json.ts';
import type { Repo } from './github-events.ts';
import { fakeClient, TEST_TOKEN } from './github.ts';
import { startIntake, type Intake } from './webhooks.ts';

// The API's intake and a delivery worker on one fresh database: what a delivery does end to end.

export type Ingestion = Intake & {
  workerBoss: PgBoss;
  /** Starts the worker when `startWorker: false` deferred it. */
  startWorker: () => Promise<void>;
  /** Resolves when every named delivery is processed, ignored or failed; rejects after `timeoutMs`. */
  settled: (deliveryIds: readonly string[], timeoutMs?: number) => Promise<void>;
};

export async function startIngestion(options: {
  label: string;
  readTagStates: TagStateReader;
  products?: ProductDefinition[];
  worker?: Partial<DeliveryWorkerOptions>;
  /** false: deliveries pile up until `startWorker()`. */
  startWorker?: boolean;
}): Promise<Ingestion> {
  const intake = await startIntake({ label: options.label, ...(options.products === undefined ? {} : { products: options.products }) });
  const workerBoss = createBoss(intake.database.url, { logger: quietLogger, applicationName: 'test-worker', maxConnections: 6, supervise: true });
  await workerBoss.start();
  let stopWorker = async (): Promise<void> => undefined;
  const startWorker = async () => {
    const worker = await startDeliveryWorker({
      db: intake.database.db,
      boss: workerBoss,
      databaseUrl: intake.database.url,
      logger: quietLogger,
      readTagStates: options.readTagStates,
      ...options.worker,
    });
    stopWorker = worker.stop;
  };
  if (options.startWorker ?? true) await startWorker();
  return {
    ...intake,
    workerBoss,
    startWorker,
    settled: (deliveryIds, timeoutMs = 30_000) => waitUntilSettled(intake.database.db, deliveryIds, timeoutMs),
    close: async () => {
      await stopWorker();
      await workerBoss.stop({ graceful: false, close: true });
      await intake.close();
    },
  };
}

const pendingCount = z.object({ count: z.number() });

async function waitUntilSettled(db: Queryable, deliveryIds: readonly string[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pending = await db.oneFirst(sql.type(pendingCount)`
      SELECT count(*)::int AS count FROM unnest(${sql.array([...deliveryIds], 'text')}) AS wanted(id)
      WHERE NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.delivery_id = wanted.id AND d.status IN ('processed', 'ignored', 'failed'))`);
    if (pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${pending} of ${deliveryIds.length} deliveries not settled within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export type FakeIngestion = Ingestion & {
  fake: FakeGitHub;
  /** acme/widget on the fake GitHub: the tracked product's repository. */
  repository: FakeRepository;
  /** Its id and name, as webhook payloads carry them. */
  repo: Repo;
};

/**
 * startIngestion with the worker reading the fake GitHub through the real client (Octokit, GraphQL
 * validated against GitHub's schema), and acme/widget created there.
 */
export async function startFakeIngestion(options: {
  label: string;
  products?: ProductDefinition[];
  worker?: Partial<DeliveryWorkerOptions>;
  startWorker?: boolean;
  /** Wraps the worker's reader (to add latency, for instance). */
  wrapReader?: (reader: TagStateReader) => TagStateReader;
}): Promise<FakeIngestion> {
  const fake = await startFakeGitHub({ token: TEST_TOKEN });
  const repository = fake.addRepository({ owner: 'acme', name: 'widget' });
  const reader = githubTagStateReader(fakeClient(fake));
  const app = await startIngestion({ ...options, readTagStates: options.wrapReader?.(reader) ?? reader });
  return {
    ...app,
    fake,
    repository,
    repo: { id: repository.id, fullName: repository.fullName },
    close: async () => {
      await app.close();
      await fake.close();
    },
  };
}

/** What a full sync reads of a fake repository now: every tag and every release, as GitHub answers them (whole seconds). */
export function fullState(repository: FakeRepository): { tags: TagFact[]; releases: GithubReleaseFact[] } {
  const seconds = (date: Date | null) => (date === null ? null : new Date(Math.floor(date.getTime() / 1000) * 1000));
  return {
    tags: repository.tagNames().map((name) => {
      const tag = repository.expectedTag(name)!;
      return { name, refSha: tag.refSha, gitSha: tag.gitSha, taggedAt: tag.taggedAt };
    }),
    releases: repository.releases().map((release) => ({
      id: release.id,
      tagName: release.tagName,
      name: release.name,
      draft: release.draft,
      prerelease: release.prerelease,
      createdAt: seconds(release.createdAt),
      publishedAt: seconds(release.publishedAt),
      htmlUrl: releaseHtmlUrl(repository, release),
    })),
  };
}
