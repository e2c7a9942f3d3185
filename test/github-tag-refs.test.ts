import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fetchTagRefs, streamTagRefs } from '../src/github/tag-refs.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { readTagList } from './support/fixtures.ts';
import { fakeClient, repoRef } from './support/github.ts';

const refs = suite<{ fake: FakeGitHub }>('REST matching-refs probe', {} as never);

refs.before(async (context) => {
  context.fake = await startFakeGitHub();
  context.fake.addFixtureRepository('prometheus__prometheus');
  context.fake.addFixtureRepository('helm__helm');
});

refs.after(async ({ fake }) => {
  await fake.close();
});

refs('every tag ref in one request: name, sha and object type as in the real list', async ({ fake }) => {
  const client = fakeClient(fake);
  fake.resetRequests();
  const result = await fetchTagRefs(client, repoRef('prometheus/prometheus'));
  if (result.notModified) throw new Error('expected refs');
  const fixture = readTagList('prometheus__prometheus');
  assert.is(result.refs.length, fixture.length);
  assert.is(result.dropped, 0);
  const byName = new Map(result.refs.map((ref) => [ref.name, ref]));
  for (const tag of fixture) assert.equal(byName.get(tag.name), { name: tag.name, sha: tag.object_sha, type: tag.object_type }, tag.name);
  assert.is(result.refs.filter((ref) => ref.type === 'commit').length, 85, 'the lightweight tags point at commits');
  assert.equal(fake.counts().byEndpoint, { 'matching-refs': 1 });
  assert.is(client.stats().points.core, 1);
});

refs('a repository without a first commit (409 "Git Repository is empty.") has no tag refs, not an error', async ({ fake }) => {
  const empty = fake.addRepository({ owner: 'acme', name: 'brand-new' });
  empty.noCommits = true;
  fake.resetRequests();
  const result = await fetchTagRefs(fakeClient(fake), repoRef('acme/brand-new'));
  assert.equal(result, { notModified: false, etag: null, refs: [], dropped: 0 });
  assert.equal(fake.counts().byStatus, { '409': 1 });
});

refs('an unchanged repository answers the stored ETag with 304 and spends nothing', async ({ fake }) => {
  const client = fakeClient(fake);
  const first = await fetchTagRefs(client, repoRef('helm/helm'));
  fake.resetRequests();
  client.resetStats();
  const again = await fetchTagRefs(client, repoRef('helm/helm'), { etag: first.etag });
  assert.equal(again, { notModified: true, etag: first.etag! });
  assert.equal(fake.counts().points, { core: 0, graphql: 0 });
  assert.is(fake.counts().notModified, 1);
  assert.is(client.stats().points.total, 0);
});

refs('adding, moving and deleting a tag each change the answer and its ETag', async ({ fake }) => {
  const client = fakeClient(fake);
  const repository = repoRef('helm/helm');
  const repo = fake.repository('helm/helm');
  let etag = (await fetchTagRefs(client, repository)).etag;
  const listing = async () => {
    const result = await fetchTagRefs(client, repository, { etag });
    if (result.notModified) throw new Error('expected a change');
    assert.is.not(result.etag, etag);
    etag = result.etag;
    return new Map(result.refs.map((ref) => [ref.name, ref]));
  };

  const added = repo.addTag({ name: 'v9.0.0', annotated: false });
  assert.equal((await listing()).get('v9.0.0'), { name: 'v9.0.0', sha: added.sha, type: 'commit' });
  const moved = repo.moveTag('v9.0.0');
  assert.equal((await listing()).get('v9.0.0'), { name: 'v9.0.0', sha: moved.sha, type: 'tag' });
  repo.deleteTag('v9.0.0');
  assert.is((await listing()).has('v9.0.0'), false);
  assert.is((await fetchTagRefs(client, repository, { etag })).notModified, true, 'then quiet again');
});

refs('100,000 tags stream in batches: the client never holds the whole body', async ({ fake }) => {
  fake.addSyntheticRepository({ owner: 'acme', name: 'huge', tags: 100_000 });
  const client = fakeClient(fake);
  const stream = await streamTagRefs(client, repoRef('acme/huge'), { batchSize: 5_000 });
  if (stream.notModified) throw new Error('expected refs');
  let count = 0;
  let batches = 0;
  let largestBatch = 0;
  const names = new Set<string>();
  for await (const batch of stream.batches) {
    batches += 1;
    largestBatch = Math.max(largestBatch, batch.length);
    count += batch.length;
    for (const ref of batch) if (ref.name.startsWith('v9.99.')) names.add(ref.name);
  }
  assert.is(count, 100_000);
  assert.is(stream.dropped(), 0);
  assert.ok(batches >= 20, `${batches} batches`);
  assert.ok(largestBatch <= 5_500, `largest batch ${largestBatch}`);
  assert.is(names.size, 100);
  assert.is(client.stats().requests, 1);
});

refs.run();
