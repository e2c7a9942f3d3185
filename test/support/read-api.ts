import { createApp } from '../../api/app.ts';
import { startLiveCache, type LiveCache } from '../../api/live-cache.ts';
import { loadConfig } from '../../src/config.ts';
import { createBoss, installQueues } from '../../src/queues.ts';
import type { PgBoss } from 'pg-boss';
import { createTestDatabase, quietLogger, type TestDatabase } from './database.ts';
import { serve, type TestServer } from './http.ts';

// The API as the read tests use it: a fresh database, the real Koa app on a loopback port, and
// optionally the live response cache (LISTEN/NOTIFY) and pg-boss queues.

export const TOKEN = 'test-token-0123456789abcdef';
export const AUTH = { Authorization: `Bearer ${TOKEN}` } as const;

export type ReadApiHarness = {
  database: TestDatabase;
  server: TestServer;
  boss: PgBoss;
  live?: LiveCache | undefined;
  /** fetch() against the server; `token: true` sends the API token. */
  get: (path: string, options?: { token?: boolean; headers?: Record<string, string> }) => Promise<Response>;
  stop: () => Promise<void>;
};

export async function startReadApi(options: { label: string; cache?: boolean; queues?: boolean; poolSize?: number }): Promise<ReadApiHarness> {
  const database = await createTestDatabase({ label: options.label, poolSize: options.poolSize ?? 5 });
  if (options.queues) await installQueues(database.url, quietLogger);
  const boss = createBoss(database.url, { logger: quietLogger, applicationName: 'test-api-boss', maxConnections: 2 });
  if (options.queues) await boss.start();
  let live: LiveCache | undefined;
  if (options.cache) {
    live = startLiveCache(database.url, quietLogger, { minBackoffMs: 20, maxBackoffMs: 200 });
    await live.listener.ready;
  }
  const config = loadConfig({ DATABASE_URL: database.url, API_TOKENS: TOKEN });
  const server = await serve(createApp({ config, logger: quietLogger, db: database.db, boss, cache: live?.cache }));
  return {
    database,
    server,
    boss,
    live,
    get: (path, request = {}) => fetch(`${server.url}${path}`, { headers: { ...(request.token ? AUTH : {}), ...request.headers } }),
    stop: async () => {
      await server.close();
      await live?.stop();
      if (options.queues) await boss.stop({ graceful: false, close: true });
      await database.drop();
    },
  };
}

/** The releases of a JSON list answer, with the next page's URL from the Link header. */
export async function readPage<T>(response: Response): Promise<{ items: T[]; next: string | null }> {
  const link = response.headers.get('link');
  const next = link === null ? null : (/<([^>]+)>;\s*rel="next"/.exec(link)?.[1] ?? null);
  return { items: (await response.json()) as T[], next };
}
