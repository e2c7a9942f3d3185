import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { PgBoss } from 'pg-boss';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createApp } from '../api/app.ts';
import { loadConfig } from '../src/config.ts';
import { createBoss } from '../src/queues.ts';
import { createTestDatabase, quietLogger } from './support/database.ts';
import { serve } from './support/http.ts';
import { ROOT } from './support/processes.ts';

const packageVersion = (JSON.parse(readFileSync(`${ROOT}/package.json`, 'utf8')) as { version: string }).version;

async function version(env: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
  const database = await createTestDatabase({ label: 'version', migrated: false });
  const boss: PgBoss = createBoss(database.url, { logger: quietLogger, applicationName: 'release-registry-test-boss', maxConnections: 1 });
  const server = await serve(createApp({ config: loadConfig({ DATABASE_URL: database.url, ...env }), logger: quietLogger, db: database.db, boss }));
  try {
    const response = await fetch(`${server.url}/-/version`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  } finally {
    await server.close();
    await database.drop();
  }
}

test('GET /-/version names the package version and the commit of the checkout', async () => {
  const { status, body } = await version({});
  assert.is(status, 200);
  assert.is(body.name, 'release-registry');
  assert.is(body.version, packageVersion);
  assert.is(body.node, process.version);
  const head = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  assert.is(body.gitSha, head);
});

test('GIT_SHA (the image build argument) wins over the checkout', async () => {
  const { body } = await version({ GIT_SHA: 'ABCDEF1234567' });
  assert.is(body.gitSha, 'abcdef1234567');
  assert.is(body.version, packageVersion);
});

test('a malformed GIT_SHA stops the process at start like any bad variable', () => {
  assert.throws(() => loadConfig({ GIT_SHA: 'not-a-sha' }), /GIT_SHA: expected a git commit sha/);
});

test.run();
