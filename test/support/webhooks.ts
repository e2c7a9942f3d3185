import { randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { sql } from 'slonik';
import { z } from 'zod';
import type { Database, Queryable } from '../../src/db/pool.ts';
import { storeDeliveries, type NewDelivery, type StoreOutcome } from '../../src/db/webhook-deliveries.ts';
import type { PgBoss } from 'pg-boss';
import { createApp } from '../../api/app.ts';
import { loadConfig } from '../../src/config.ts';
import { syncProductDefinitions } from '../../src/db/products.ts';
import { DEFAULT_TAG_PATTERN } from '../../src/domain/version.ts';
import type { ProductDefinition } from '../../src/products.ts';
import { enqueueStoredDeliveries } from '../../src/webhooks/enqueue-stored-deliveries.ts';
import { createBoss, installQueues } from '../../src/queues.ts';
import { createTestDatabase, quietLogger, type TestDatabase } from './database.ts';
import { readFixture } from './fixtures.ts';
import { serve, type TestServer } from './http.ts';

// Real GitHub webhook payloads (test/fixtures/webhooks/) rewritten to a repository the test tracks,
// signed like GitHub signs them, and what the database holds afterwards.

export const WEBHOOK_SECRET = 'a-test-webhook-secret-0123456789';

/** The repository every fixture names (Codertocat/Hello-World). */
export const FIXTURE_REPOSITORY = { id: 186853002, fullName: 'Codertocat/Hello-World' };

export type Rewrite = {
  repository?: { id: number; fullName: string };
  /** New tag name (release.tag_name, or create/delete `ref`, or push `refs/tags/<tag>`). */
  tag?: string;
  releaseId?: number;
  /** release.draft / release.prerelease / release.published_at. */
  release?: { draft?: boolean; prerelease?: boolean; publishedAt?: string | null };
  /** push: the new sha of the tag (40 zeros = deleted). */
  after?: string;
};

/** A fixture payload (`release/published`, `push/payload`…) with its repository and tag rewritten. */
export function fixturePayload(name: string, rewrite: Rewrite = {}): Record<string, unknown> {
  let text = JSON.stringify(readFixture(`webhooks/${name}.json`));
  if (rewrite.repository !== undefined) {
    const [owner, repo] = rewrite.repository.fullName.split('/') as [string, string];
    text = text.replaceAll(FIXTURE_REPOSITORY.fullName, rewrite.repository.fullName).replaceAll('"Hello-World"', JSON.stringify(repo));
    text = text.replaceAll('"Codertocat"', JSON.stringify(owner));
  }
  const payload = JSON.parse(text) as Record<string, any>;
  if (rewrite.repository !== undefined) payload.repository.id = rewrite.repository.id;
  if (rewrite.tag !== undefined) {
    if (payload.release !== undefined) payload.release.tag_name = rewrite.tag;
    else if (typeof payload.ref === 'string') payload.ref = payload.ref.startsWith('refs/tags/') ? `refs/tags/${rewrite.tag}` : rewrite.tag;
  }
  if (rewrite.releaseId !== undefined) payload.release.id = rewrite.releaseId;
  if (rewrite.release?.draft !== undefined) payload.release.draft = rewrite.release.draft;
  if (rewrite.release?.prerelease !== undefined) payload.release.prerelease = rewrite.release.prerelease;
  if (rewrite.release?.publishedAt !== undefined) payload.release.published_at = rewrite.release.publishedAt;
  if (rewrite.after !== undefined) {
    payload.after = rewrite.after;
    payload.deleted = /^0{40}$/.test(rewrite.after);
    payload.created = !payload.deleted;
  }
  return payload;
}

export type Delivery = { event: string; deliveryId?: string; payload: unknown; contentType?: 'json' | 'form'; secret?: string };

/** The request GitHub would send: body in the chosen content type, signed over its exact bytes. */
export async function signedRequest(delivery: Delivery): Promise<{ headers: Record<string, string>; body: string; deliveryId: string }> {
  const deliveryId = delivery.deliveryId ?? randomUUID();
  const json = JSON.stringify(delivery.payload);
  const body = delivery.contentType === 'form' ? new URLSearchParams({ payload: json }).toString() : json;
  return {
    deliveryId,
    body,
    headers: {
      'content-type': delivery.contentType === 'form' ? 'application/x-www-form-urlencoded' : 'application/json',
      'user-agent': 'GitHub-Hookshot/test',
      'x-github-event': delivery.event,
      'x-github-delivery': deliveryId,
      'x-github-hook-id': '292430182',
      'x-github-hook-installation-target-type': 'repository',
      'x-github-hook-installation-target-id': '186853002',
      'x-hub-signature-256': await sign(delivery.secret ?? WEBHOOK_SECRET, body),
    },
  };
}

/** Posts a signed delivery to the intake and returns the status and JSON body. */
export async function postDelivery(baseUrl: string, delivery: Delivery): Promise<{ status: number; body: any; deliveryId: string }> {
  const request = await signedRequest(delivery);
  const response = await fetch(`${baseUrl}/webhooks/github`, { method: 'POST', headers: request.headers, body: request.body });
  return { status: response.status, body: await response.json(), deliveryId: request.deliveryId };
}

const countRow = z.object({ count: z.number() });

/** Rows the intake writes: deliveries and process-delivery jobs. */
export async function countWrites(db: Queryable): Promise<{ deliveries: number; jobs: number }> {
  const deliveries = await db.oneFirst(sql.type(countRow)`SELECT count(*)::int AS count FROM webhook_deliveries`);
  const jobs = await db.oneFirst(sql.type(countRow)`SELECT count(*)::int AS count FROM pgboss.job WHERE name = 'process-delivery'`);
  return { deliveries, jobs };
}

export const deliveryRow = z.object({
  deliveryId: z.string(),
  event: z.string(),
  action: z.string().nullable(),
  repositoryId: z.number().nullable(),
  repositoryFullName: z.string().nullable(),
  hookId: z.number().nullable(),
  productIds: z.array(z.number()),
  payload: z.record(z.string(), z.unknown()),
  headers: z.record(z.string(), z.string()),
  status: z.string(),
  ignoredReason: z.string().nullable(),
  error: z.string().nullable(),
  jobId: z.string().nullable(),
  jobData: z.unknown(),
});

export async function readDelivery(db: Queryable, deliveryId: string): Promise<z.infer<typeof deliveryRow> | null> {
  return db.maybeOne(sql.type(deliveryRow)`
    SELECT d.delivery_id AS "deliveryId", d.event, d.action, d.repository_id AS "repositoryId",
           d.repository_full_name AS "repositoryFullName", d.hook_id AS "hookId", d.product_ids AS "productIds",
           d.payload::jsonb AS payload, d.headers, d.status, d.ignored_reason AS "ignoredReason", d.error, d.job_id AS "jobId", j.data AS "jobData"
    FROM webhook_deliveries d LEFT JOIN pgboss.job j ON j.id = d.job_id AND j.name = 'process-delivery'
    WHERE d.delivery_id = ${deliveryId}`);
}

export const TRACKED_REPOSITORY = { id: 7001, fullName: 'acme/widget' };

/** A verified `release published` delivery of the tracked repository, as the intake hands it to the store. */
export function trackedReleaseDelivery(payload: Buffer, deliveryId = randomUUID()): NewDelivery {
  return {
    deliveryId,
    event: 'release',
    action: 'published',
    repositoryId: TRACKED_REPOSITORY.id,
    repositoryFullName: TRACKED_REPOSITORY.fullName,
    hookId: 1,
    payload,
    headers: { 'x-github-event': 'release', 'x-github-delivery': deliveryId },
    ignoredReason: null,
    receivedAt: new Date(),
  };
}

/**
 * Stores deliveries as the intake does and gives the queued ones the job `jobId`, as the worker's
 * enqueuer would but under a job the test names (and enqueues, or not). One transaction, so a
 * running enqueuer cannot give them its own job in between.
 */
export async function storeUnderJob(db: Queryable, deliveries: readonly NewDelivery[], jobId: string): Promise<Map<string, StoreOutcome>> {
  return db.transaction(async (transaction) => {
    const stored = await storeDeliveries(transaction, deliveries);
    await transaction.query(sql.unsafe`
      UPDATE webhook_deliveries SET job_id = ${jobId}::uuid
      WHERE status = 'queued' AND job_id IS NULL AND delivery_id = ANY(${sql.array(
        deliveries.map((delivery) => delivery.deliveryId),
        'text',
      )})`);
    return stored;
  });
}

/** A push delivery of `repo` as the intake would store it, with the payload text given. */
export function storedPush(repo: { id: number; fullName: string }, deliveryId: string, payload: string): NewDelivery {
  return {
    deliveryId,
    event: 'push',
    action: null,
    repositoryId: repo.id,
    repositoryFullName: repo.fullName,
    hookId: null,
    payload: Buffer.from(payload),
    headers: {},
    ignoredReason: null,
    receivedAt: new Date(),
  };
}

/** What the worker's enqueuer does when woken: gives every stored delivery without a job its job. Returns how many. */
export async function enqueueAllStored(db: Database, boss: PgBoss): Promise<number> {
  let enqueued = 0;
  for (let count = await enqueueStoredDeliveries(db, boss); count > 0; count = await enqueueStoredDeliveries(db, boss)) enqueued += count;
  return enqueued;
}

export type Intake = {
  database: TestDatabase;
  server: TestServer;
  boss: PgBoss;
  /** Does what the worker's enqueuer does: gives every stored delivery without a job its job. */
  enqueueStored: () => Promise<void>;
  close: () => Promise<void>;
};

/**
 * A fresh database with pg-boss installed and one tracked product (`widget`, acme/widget), and the
 * API serving it with the webhook secret set (or not).
 */
export async function startIntake(options: { label: string; secret?: string | null; products?: ProductDefinition[] }): Promise<Intake> {
  const database = await createTestDatabase({ label: options.label });
  await installQueues(database.url, quietLogger);
  await syncProductDefinitions(database.db, options.products ?? [widgetProduct()]);
  const secret = options.secret === undefined ? WEBHOOK_SECRET : options.secret;
  const config = loadConfig({ DATABASE_URL: database.url, ...(secret === null ? {} : { GITHUB_WEBHOOK_SECRET: secret }) });
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'test-api', maxConnections: 2 });
  await boss.start();
  const server = await serve(createApp({ config, logger: quietLogger, db: database.db, boss }));
  return {
    database,
    server,
    boss,
    enqueueStored: async () => {
      await enqueueAllStored(database.db, boss);
    },
    close: async () => {
      await server.close();
      await boss.stop({ graceful: false, close: true });
      await database.drop();
    },
  };
}

export function widgetProduct(overrides: Partial<ProductDefinition> = {}): ProductDefinition {
  return {
    name: 'widget',
    repository: TRACKED_REPOSITORY.fullName,
    tagPattern: DEFAULT_TAG_PATTERN,
    plainTagsPublic: false,
    public: true,
    ...overrides,
  };
}
