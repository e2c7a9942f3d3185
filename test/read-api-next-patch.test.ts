import { sql } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import type { Product } from '../src/db/products.ts';
import { tombstoneTags } from '../src/db/releases.ts';
import { readTagList } from './support/fixtures.ts';
import { startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { defineProducts, githubRelease, productDefinition, seedReleases, tagFactFromFixture } from './support/seed.ts';

// POST /v1/releases/:product/next/:major.:minor: one more than the highest patch the line has ever
// had (any visibility), `.0` for a new line. It computes only: nothing is written.

const next = suite<{ api: ReadApiHarness; app: Product }>('read API next patch', {} as never);

const sha = (n: number) => n.toString(16).padStart(40, '0');

next.before(async (context) => {
  context.api = await startReadApi({ label: 'next_patch' });
  const { db } = context.api.database;
  const products = await defineProducts(db, [productDefinition('app'), productDefinition('src-cli', { repository: 'sourcegraph/src-cli', plainTagsPublic: true })]);
  context.app = products.get('app')!;
  const tags = ['v5.3.0', 'v5.3.1', 'v5.3.2', 'v5.3.9', 'v5.4.0-rc.1', 'v5.4.0-rc.2', 'v5.5.0', 'v5.5.1-rc.1', 'v5.6.0', 'v5.6.1'];
  await seedReleases(
    db,
    context.app,
    tags.map((name, index) => ({ name, refSha: sha(index + 1), gitSha: sha(index + 100), taggedAt: new Date(Date.UTC(2024, 0, index + 1)) })),
    // Only 5.3.0 is public: the others count all the same.
    [githubRelease(1, 'v5.3.0')],
  );
  // 5.6.1 was deleted from GitHub: its number was used, it is not handed out again.
  await db.transaction((transaction) => tombstoneTags(transaction, context.app.id, ['v5.6.1']));
  await seedReleases(db, products.get('src-cli')!, readTagList('sourcegraph__src-cli').map(tagFactFromFixture));
});

next.after(async (context) => {
  await context.api.stop();
});

async function nextOf(api: ReadApiHarness, product: string, line: string, token = false): Promise<{ status: number; text: string }> {
  const response = await fetch(`${api.server.url}/v1/releases/${product}/next/${line}`, {
    method: 'POST',
    headers: token ? { Authorization: 'Bearer test-token-0123456789abcdef' } : {},
  });
  return { status: response.status, text: await response.text() };
}

next('an existing line: one more than its highest patch, whatever its visibility', async ({ api }) => {
  assert.equal(await nextOf(api, 'app', '5.3'), { status: 200, text: '5.3.10' }, '5.3.9 is internal and still counts');
  assert.equal(await nextOf(api, 'app', 'v5.3'), { status: 200, text: '5.3.10' }, 'with a v');
});

next('a new line starts at .0', async ({ api }) => {
  assert.equal(await nextOf(api, 'app', '5.7'), { status: 200, text: '5.7.0' });
  assert.equal(await nextOf(api, 'app', '6.0'), { status: 200, text: '6.0.0' });
  assert.equal(await nextOf(api, 'app', '0.0'), { status: 200, text: '0.0.0' });
});

next('a line whose highest patch exists only as prereleases gets that patch', async ({ api }) => {
  assert.equal(await nextOf(api, 'app', '5.4'), { status: 200, text: '5.4.0' }, 'only 5.4.0-rc.N exist');
  assert.equal(await nextOf(api, 'app', '5.5'), { status: 200, text: '5.5.1' }, '5.5.1-rc.1 exists, 5.5.1 does not');
});

next('a deleted tag still holds its number', async ({ api }) => {
  assert.equal(await nextOf(api, 'app', '5.6'), { status: 200, text: '5.6.2' });
});

next('on a real tag list (sourcegraph/src-cli)', async ({ api }) => {
  // The list has 5.3.0 … 5.3.2 (no v prefix at all) and the odd 6.7.1104.
  const versions = readTagList('sourcegraph__src-cli').map((tag) => tag.name);
  const patchesOf = (line: string) =>
    versions.filter((name) => name.startsWith(`${line}.`) && /^\d+\.\d+\.\d+$/.test(name)).map((name) => Number(name.split('.')[2]));
  for (const line of ['5.3', '6.7', '3.14']) {
    const patches = patchesOf(line);
    const expected = patches.length === 0 ? `${line}.0` : `${line}.${Math.max(...patches) + 1}`;
    assert.equal(await nextOf(api, 'src-cli', line), { status: 200, text: expected }, line);
  }
  assert.ok(patchesOf('6.7').includes(1104));
});

next('it writes nothing', async ({ api }) => {
  const count = () =>
    api.database.db.one(
      sql.type(z.object({ releases: z.number(), changes: z.number(), updated: z.string().nullable() }))`
        SELECT (SELECT count(*) FROM releases)::int AS releases, (SELECT count(*) FROM release_changes)::int AS changes,
               (SELECT max(updated_at)::text FROM releases) AS updated`,
    );
  const before = await count();
  for (const line of ['5.3', '5.8', '9.9']) assert.is((await nextOf(api, 'app', line, true)).status, 200);
  assert.equal(await count(), before);
});

next('a line that is not major.minor is a 400; an unknown product a 404', async ({ api }) => {
  for (const line of ['5', '5.3.1', 'five.three', '5.x']) {
    const answer = await nextOf(api, 'app', line);
    assert.is(answer.status, 400, line);
    assert.match(answer.text, /major\.minor/);
  }
  assert.is((await nextOf(api, 'nope', '1.0')).status, 404);
});

next.run();
