import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { sql } from 'slonik';
import { z } from 'zod';
import { syncProductDefinitions } from '../src/db/products.ts';
import { upsertTags } from '../src/db/releases.ts';
import { TAG_PAGE_SIZE, tagPages } from '../src/github/tag-pages.ts';
import { PEEL_DEPTH } from '../src/github/tag-target.ts';
import { createTestDatabase } from './support/database.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { readTagList, TAG_LISTS } from './support/fixtures.ts';
import { allTags, comparableFact, expectedFact, fakeClient, repoRef } from './support/github.ts';

const pages = suite<{ fake: FakeGitHub }>('GraphQL tag pages', {} as never);

pages.before(async (context) => {
  context.fake = await startFakeGitHub();
  for (const list of TAG_LISTS) context.fake.addFixtureRepository(list);
});

pages.after(async ({ fake }) => {
  await fake.close();
});

for (const list of TAG_LISTS) {
  const fullName = list.replace('__', '/');
  pages(`${fullName}: every real tag, 100 per query, with its ref sha, peeled commit and date`, async ({ fake }) => {
    const fixture = readTagList(list);
    const client = fakeClient(fake);
    fake.resetRequests();
    const tags = await allTags(client, repoRef(fullName));
    assert.is(tags.size, fixture.length);
    for (const tag of fixture) assert.equal(comparableFact(tags.get(tag.name)), expectedFact(tag), tag.name);
    const queries = Math.ceil(fixture.length / TAG_PAGE_SIZE);
    assert.equal(fake.counts().byEndpoint, { graphql: queries });
    assert.is(client.stats().requests, queries);
    assert.is(client.stats().points.graphql, queries, 'one point per page of 100');
  });
}

pages('git/git quirks: nested tags, a tag of a blob, a tag without a tagger', async ({ fake }) => {
  const tags = await allTags(fakeClient(fake), repoRef('git/git'));
  const byName = (name: string) => comparableFact(tags.get(name));
  // v1.0rc1 is a tag of the v0.99.9h tag: its ref is the outer tag object, its sha the commit
  // under both, its date the outer tagger's.
  assert.equal(byName('v1.0rc1'), {
    name: 'v1.0rc1',
    refSha: '5f4cd4ca015dc795b9f7f4fed11b3f80a60ac175',
    gitSha: 'f7a2eb735982e921ae4379f1dcf5f7a023610393',
    taggedAt: Date.parse('2005-11-11T23:58:18-08:00'),
  });
  assert.equal(byName('junio-gpg-pub'), {
    name: 'junio-gpg-pub',
    refSha: 'dd20f6ea53bf6828baba3e2f279bf633eaae6815',
    gitSha: null,
    taggedAt: Date.parse('2021-09-07T12:56:51-07:00'),
  });
  assert.equal(byName('v0.99'), {
    name: 'v0.99',
    refSha: 'd6602ec5194c87b0fc87103ca4d67251c76f233a',
    gitSha: 'a3eb250f996bf5e12376ec88622c4ccaabf20ea8',
    taggedAt: Date.parse('2005-07-10T16:16:34-07:00'),
  });
});

pages('helm/helm: lightweight tags carry the commit as ref and git sha, and the commit date', async ({ fake }) => {
  const tags = await allTags(fakeClient(fake), repoRef('helm/helm'));
  const lightweight = readTagList('helm__helm').filter((tag) => !tag.annotated);
  assert.is(lightweight.length, 25);
  for (const tag of lightweight) {
    const fact = tags.get(tag.name)!;
    assert.is(fact.refSha, tag.peeled_sha);
    assert.is(fact.gitSha, tag.peeled_sha);
    assert.is(fact.taggedAt?.getTime(), Date.parse(tag.commit_date!));
  }
});

pages('a listing resumes after a saved cursor without repeating or skipping a tag', async ({ fake }) => {
  const client = fakeClient(fake);
  const repository = repoRef('prometheus/prometheus');
  const iterator = tagPages(client, repository);
  const first = (await iterator.next()).value!;
  const second = (await iterator.next()).value!;
  await iterator.return(undefined);
  assert.is(first.tags.length, 100);
  assert.is(first.hasNextPage, true);
  const seen = [...first.tags, ...second.tags].map((tag) => tag.name);

  const resumed: string[] = [];
  for await (const page of tagPages(client, repository, { after: second.endCursor })) resumed.push(...page.tags.map((tag) => tag.name));
  const all = [...seen, ...resumed];
  assert.is(new Set(all).size, all.length, 'no tag twice');
  assert.equal(all, [...readTagList('prometheus__prometheus').map((tag) => tag.name)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
});

pages('pages carry the repository id and name, and the query cost', async ({ fake }) => {
  const client = fakeClient(fake);
  const iterator = tagPages(client, repoRef('sourcegraph/src-cli'));
  const page = (await iterator.next()).value!;
  await iterator.return(undefined);
  assert.equal(page.repository, { databaseId: fake.repository('sourcegraph/src-cli').id, nameWithOwner: 'sourcegraph/src-cli' });
  assert.is(client.stats().points.graphql, 1);
  assert.is(page.dropped, 0);
});

pages(`a chain of tag objects deeper than the query peels (${PEEL_DEPTH}) is finished with one more query`, async ({ fake }) => {
  const repo = fake.addRepository({ owner: 'acme', name: 'deep-tags' });
  repo.addTag({ name: 'base', commitDate: '2024-03-01T10:00:00Z', taggerDate: '2024-03-01T11:00:00+01:00' });
  let previous = 'base';
  for (let level = 1; level <= PEEL_DEPTH + 2; level += 1) {
    repo.addTag({ name: `level-${level}`, retag: previous, taggerDate: `2024-03-0${level + 1}T12:00:00Z` });
    previous = `level-${level}`;
  }
  const client = fakeClient(fake);
  const tags = await allTags(client, repoRef('acme/deep-tags'));
  const deepest = `level-${PEEL_DEPTH + 2}`;
  assert.equal(comparableFact(tags.get(deepest)), { ...comparableFact(repo.expectedTag(deepest)) });
  assert.is(tags.get(deepest)!.gitSha, tags.get('base')!.gitSha);
  assert.is(client.stats().requests, 2, 'the page, then one peel query');
});

pages('an empty repository is one page with no tags', async ({ fake }) => {
  fake.addRepository({ owner: 'acme', name: 'empty' });
  const collected = [];
  for await (const page of tagPages(fakeClient(fake), repoRef('acme/empty'))) collected.push(page);
  assert.is(collected.length, 1);
  assert.equal(collected[0]!.tags, []);
  assert.is(collected[0]!.hasNextPage, false);
});

pages('the facts are what the release writes accept: git/git stored page by page', async ({ fake }) => {
  const database = await createTestDatabase({ label: 'tag_pages' });
  try {
    const [product] = await syncProductDefinitions(database.db, [
      { name: 'git', repository: 'git/git', tagPattern: String.raw`^(?<version>.+)$`, plainTagsPublic: true, public: true },
    ]);
    for await (const page of tagPages(fakeClient(fake), repoRef('git/git'))) {
      await database.db.transaction((trx) => upsertTags(trx, { id: product!.id, tagPattern: String.raw`^v(?<version>\d+\.\d+\.\d+)$` }, page.tags));
    }
    const row = await database.db.one(sql.type(z.object({ count: z.number(), blob: z.number() }))`
      SELECT count(*)::int AS count, count(*) FILTER (WHERE git_sha IS NULL)::int AS blob FROM releases WHERE product_id = ${product!.id}`);
    const versions = readTagList('git__git').filter((tag) => /^v\d+\.\d+\.\d+$/.test(tag.name));
    assert.is(row.count, versions.length);
    assert.is(row.blob, 0);
  } finally {
    await database.drop();
  }
});

pages.run();
