import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { readFixture, readTagList } from './support/fixtures.ts';
import { TEST_TOKEN } from './support/github.ts';

// The fake's REST side, read with plain fetch: what a client sees must look like GitHub.

const fakeRest = suite<{ fake: FakeGitHub }>('fake GitHub REST', {} as never);

fakeRest.before(async (context) => {
  context.fake = await startFakeGitHub();
  context.fake.addFixtureRepository('helm__helm', { releases: (_tag, index) => (index < 120 ? { draft: index === 0 } : null) });
});

fakeRest.after(async ({ fake }) => {
  await fake.close();
});

const get = (fake: FakeGitHub, path: string, headers: Record<string, string> = {}) =>
  fetch(path.startsWith('http') ? path : `${fake.url}${path}`, { headers: { authorization: `token ${TEST_TOKEN}`, ...headers }, redirect: 'manual' });

const keys = (value: unknown) => Object.keys(value as object);

fakeRest('lists paginate like GitHub: 30 by default, at most 100, Link with first/prev/next/last', async ({ fake }) => {
  const id = fake.repository('helm/helm').id;
  const first = await get(fake, '/repos/helm/helm/releases');
  assert.is(((await first.json()) as unknown[]).length, 30);
  assert.is(
    first.headers.get('link'),
    `<${fake.url}/repositories/${id}/releases?page=2>; rel="next", <${fake.url}/repositories/${id}/releases?page=4>; rel="last"`,
  );
  const middle = await get(fake, '/repos/helm/helm/releases?per_page=50&page=2');
  assert.is(((await middle.json()) as unknown[]).length, 50);
  assert.is(
    middle.headers.get('link'),
    [
      `<${fake.url}/repositories/${id}/releases?per_page=50&page=1>; rel="prev"`,
      `<${fake.url}/repositories/${id}/releases?per_page=50&page=3>; rel="next"`,
      `<${fake.url}/repositories/${id}/releases?per_page=50&page=3>; rel="last"`,
      `<${fake.url}/repositories/${id}/releases?per_page=50&page=1>; rel="first"`,
    ].join(', '),
  );
  const capped = await get(fake, '/repos/helm/helm/releases?per_page=500');
  assert.is(((await capped.json()) as unknown[]).length, 100);
  const last = await get(fake, `/repositories/${id}/releases?per_page=100&page=2`);
  assert.is(((await last.json()) as unknown[]).length, 20);
  assert.not.match(last.headers.get('link') ?? '', /rel="next"/);
});

fakeRest('weak ETags; If-None-Match answers 304 without a body and without spending', async ({ fake }) => {
  const first = await get(fake, '/repos/helm/helm/releases?per_page=100');
  const etag = first.headers.get('etag')!;
  assert.match(etag, /^W\/"[0-9a-f]{40}"$/);
  const used = fake.rateLimit('core').used;
  const again = await get(fake, '/repos/helm/helm/releases?per_page=100', { 'if-none-match': etag });
  assert.is(again.status, 304);
  assert.is(await again.text(), '');
  assert.is(again.headers.get('etag'), etag);
  assert.is(fake.rateLimit('core').used, used, 'a 304 is free');
  assert.is(again.headers.get('x-ratelimit-used'), String(used));
  const strong = await get(fake, '/repos/helm/helm/releases?per_page=100', { 'if-none-match': etag.slice(2) });
  assert.is(strong.status, 304, 'weak comparison');
  const other = await get(fake, '/repos/helm/helm/releases?per_page=100&page=2', { 'if-none-match': etag });
  assert.is(other.status, 200, 'another page has another ETag');
});

fakeRest('x-ratelimit headers per resource; a request spends one core point', async ({ fake }) => {
  const before = fake.rateLimit('core');
  const response = await get(fake, '/repos/helm/helm');
  assert.is(response.headers.get('x-ratelimit-resource'), 'core');
  assert.is(response.headers.get('x-ratelimit-limit'), '5000');
  assert.is(response.headers.get('x-ratelimit-used'), String(before.used + 1));
  assert.is(response.headers.get('x-ratelimit-remaining'), String(before.remaining - 1));
  assert.is(response.headers.get('x-ratelimit-reset'), String(before.resetAt.getTime() / 1000));
  const overview = (await (await get(fake, '/rate_limit')).json()) as { resources: { core: { used: number }; graphql: unknown } };
  assert.is(overview.resources.core.used, before.used + 1, '/rate_limit itself is free');
  assert.equal(keys(overview.resources.core), keys(readFixture<{ resources: { core: object } }>('rest/rate-limit-overview.json').resources.core));
});

fakeRest('bodies have the keys of GitHub OpenAPI examples', async ({ fake }) => {
  const repo = fake.repository('helm/helm');
  const release = ((await (await get(fake, '/repos/helm/helm/releases')).json()) as unknown[])[0];
  assert.equal(keys(release), keys(readFixture<unknown[]>('rest/release-items.json')[0]));
  const tag = readTagList('helm__helm').find((candidate) => candidate.annotated)!;
  const ref = await (await get(fake, `/repos/helm/helm/git/ref/tags/${tag.name}`)).json();
  assert.equal(keys(ref), keys(readFixture('rest/git-ref.json')));
  const tagObject = (await (await get(fake, `/repos/helm/helm/git/tags/${tag.object_sha}`)).json()) as { object: { sha: string }; tagger: { date: string } };
  assert.equal(keys(tagObject), keys(readFixture('rest/git-tag.json')));
  assert.is(tagObject.object.sha, tag.peeled_sha);
  assert.is(new Date(tagObject.tagger.date).getTime(), new Date(tag.tagger_date!).getTime());
  const commit = (await (await get(fake, `/repos/helm/helm/git/commits/${tag.peeled_sha}`)).json()) as { committer: { date: string } };
  assert.equal(keys(commit), keys(readFixture('rest/git-commit.json')));
  assert.is(new Date(commit.committer.date).getTime(), new Date(tag.commit_date!).getTime());
  const tags = (await (await get(fake, '/repos/helm/helm/tags?per_page=1')).json()) as unknown[];
  assert.equal(keys(tags[0]), keys(readFixture<unknown[]>('rest/tag-items.json')[0]));
  const refs = (await (await get(fake, '/repos/helm/helm/git/matching-refs/tags')).json()) as unknown[];
  assert.is(refs.length, readTagList('helm__helm').length);
  assert.equal(keys(refs[0]), keys(readFixture<unknown[]>('rest/git-ref-items.json')[0]));
  assert.is(((await (await get(fake, '/repos/helm/helm/git/matching-refs/tags/v3.2')).json()) as unknown[]).length, readTagList('helm__helm').filter((t) => t.name.startsWith('v3.2')).length);
  assert.is(repo.tagCount, readTagList('helm__helm').length);
});

fakeRest('a release by tag finds published releases only; unknown routes are GitHub 404s', async ({ fake }) => {
  const repo = fake.repository('helm/helm');
  const draft = repo.releases().find((release) => release.draft)!;
  const published = repo.releases().find((release) => !release.draft)!;
  assert.is((await get(fake, `/repos/helm/helm/releases/tags/${published.tagName}`)).status, 200);
  const missing = await get(fake, `/repos/helm/helm/releases/tags/${draft.tagName}`);
  assert.is(missing.status, 404);
  assert.equal(await missing.json(), { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
  const unknown = await get(fake, '/repos/helm/helm/no/such/thing');
  assert.is(unknown.status, 404);
  assert.equal(await unknown.json(), { message: 'Not Found', documentation_url: 'https://docs.github.com/rest', status: '404' });
  assert.is((await get(fake, '/repos/helm/nothing')).status, 404);
});

fakeRest('a renamed repository keeps its id; its old name answers 301 to /repositories/{id}', async ({ fake }) => {
  const repo = fake.addRepository({ owner: 'acme', name: 'before', tags: readTagList('helm__helm').slice(0, 3) });
  fake.renameRepository('acme/before', 'acme/after');
  const moved = await get(fake, '/repos/acme/before/releases?per_page=10');
  assert.is(moved.status, 301);
  assert.is(moved.headers.get('location'), `${fake.url}/repositories/${repo.id}/releases?per_page=10`);
  const info = (await (await fetch(`${fake.url}/repos/acme/before`, { headers: { authorization: `token ${TEST_TOKEN}` } })).json()) as { id: number; full_name: string };
  assert.equal(info, { ...info, id: repo.id, full_name: 'acme/after' });
});

fakeRest('faults: every Nth request, a limited number of times, matched by endpoint', async ({ fake }) => {
  fake.resetRequests();
  const fault = fake.addFault({ kind: 'status', status: 502, every: 3, times: 2, endpoint: 'repository' });
  const statuses = [];
  for (let index = 0; index < 9; index += 1) statuses.push((await get(fake, '/repos/helm/helm')).status);
  assert.equal(statuses, [200, 200, 502, 200, 200, 502, 200, 200, 200]);
  assert.is(fault.fired, 2);
  assert.equal(fake.counts().byStatus, { '200': 7, '502': 2 });
  assert.is(fake.counts().points.core, 7, 'made-up failures are free');
  fake.clearFaults();
});

fakeRest('a wrong token is "Bad credentials" when the fake checks tokens', async () => {
  const strict = await startFakeGitHub({ token: 'right' });
  try {
    const response = await fetch(`${strict.url}/rate_limit`, { headers: { authorization: 'token wrong' } });
    assert.is(response.status, 401);
    assert.is(((await response.json()) as { message: string }).message, 'Bad credentials');
    assert.is((await fetch(`${strict.url}/rate_limit`, { headers: { authorization: 'token right' } })).status, 200);
  } finally {
    await strict.close();
  }
});

fakeRest.run();
