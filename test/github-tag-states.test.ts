import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fetchTagStates } from '../src/github/tag-states.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { readTagList } from './support/fixtures.ts';
import { comparableFact, expectedFact, fakeClient, rejection, repoRef } from './support/github.ts';

const states = suite<{ fake: FakeGitHub }>('current state of named tags', {} as never);

states.before(async (context) => {
  context.fake = await startFakeGitHub();
  context.fake.addFixtureRepository('helm__helm');
  context.fake.addFixtureRepository('git__git');
});

states.after(async ({ fake }) => {
  await fake.close();
});

const fixtureTag = (list: 'helm__helm' | 'git__git', name: string) => readTagList(list).find((tag) => tag.name === name)!;

states('present and missing, annotated and lightweight tags in one query', async ({ fake }) => {
  const client = fakeClient(fake);
  fake.resetRequests();
  const result = await fetchTagStates(client, repoRef('helm/helm'), ['v3.21.4', 'v1.0', 'v0.0.0-never', 'v3.21.4']);
  assert.equal(result.repository, { databaseId: fake.repository('helm/helm').id, nameWithOwner: 'helm/helm' });
  assert.equal(result.states.map((state) => state.name), ['v3.21.4', 'v1.0', 'v0.0.0-never'], 'duplicates asked once, order kept');
  assert.equal(comparableFact(result.states[0]!.tag ?? undefined), expectedFact(fixtureTag('helm__helm', 'v3.21.4')), 'annotated');
  assert.equal(comparableFact(result.states[1]!.tag ?? undefined), expectedFact(fixtureTag('helm__helm', 'v1.0')), 'lightweight');
  assert.is(result.states[2]!.tag, null, 'missing');
  assert.equal(fake.counts().byEndpoint, { graphql: 1 });
  assert.is(client.stats().points.graphql, 1);
});

states('nested and blob tags peel as in a full listing', async ({ fake }) => {
  const result = await fetchTagStates(fakeClient(fake), repoRef('git/git'), ['v1.0rc6', 'junio-gpg-pub', 'v0.99']);
  for (const state of result.states) assert.equal(comparableFact(state.tag ?? undefined), expectedFact(fixtureTag('git__git', state.name)), state.name);
});

states('releases naming the tags: published, prerelease and draft, and none', async ({ fake }) => {
  const repo = fake.addRepository({ owner: 'acme', name: 'states', tags: readTagList('helm__helm').slice(0, 5) });
  const names = readTagList('helm__helm').slice(0, 5).map((tag) => tag.name);
  const published = repo.createRelease({ tagName: names[0]!, name: 'First', createdAt: new Date('2024-01-01T00:00:00Z') });
  const prerelease = repo.createRelease({ tagName: names[1]!, prerelease: true, createdAt: new Date('2024-01-02T00:00:00Z') });
  const draft = repo.createRelease({ tagName: names[2]!, draft: true, createdAt: new Date('2024-01-03T00:00:00Z') });
  const draftOfMissingTag = repo.createRelease({ tagName: 'v99.0.0', draft: true });

  const result = await fetchTagStates(fakeClient(fake), repoRef('acme/states'), [...names.slice(0, 4), 'v99.0.0']);
  const [first, second, third, fourth, future] = result.states;
  assert.equal(first!.releases, [
    {
      id: published.id,
      tagName: names[0],
      name: 'First',
      draft: false,
      prerelease: false,
      createdAt: new Date('2024-01-01T00:00:00Z'),
      publishedAt: new Date('2024-01-01T00:00:00Z'),
      htmlUrl: `https://github.com/acme/states/releases/tag/${names[0]}`,
    },
  ]);
  assert.is(second!.releases[0]!.id, prerelease.id);
  assert.is(second!.releases[0]!.prerelease, true);
  assert.is(third!.releases[0]!.id, draft.id, 'release(tagName:) finds drafts');
  assert.is(third!.releases[0]!.draft, true);
  assert.is(third!.releases[0]!.publishedAt, null);
  assert.equal(fourth!.releases, []);
  assert.is(future!.tag, null, "a draft's tag need not exist");
  assert.is(future!.releases[0]!.id, draftOfMissingTag.id);
});

states('the state follows changes: a moved tag, a deleted tag, a published draft', async ({ fake }) => {
  const repo = fake.addRepository({ owner: 'acme', name: 'changing' });
  repo.addTag({ name: 'v1.0.0', taggerDate: '2024-05-01T10:00:00Z' });
  repo.addTag({ name: 'v1.1.0', annotated: false, commitDate: '2024-05-02T10:00:00Z' });
  const draft = repo.createRelease({ tagName: 'v1.0.0', draft: true });
  const client = fakeClient(fake);
  const repository = repoRef('acme/changing');

  const moved = repo.moveTag('v1.0.0', { taggerDate: '2024-06-01T10:00:00Z' });
  repo.deleteTag('v1.1.0');
  repo.publishRelease(draft.id, new Date('2024-06-02T00:00:00Z'));
  const result = await fetchTagStates(client, repository, ['v1.0.0', 'v1.1.0']);
  assert.is(result.states[0]!.tag!.refSha, moved.sha);
  assert.equal(result.states[0]!.tag!.taggedAt, new Date('2024-06-01T10:00:00Z'));
  assert.is(result.states[1]!.tag, null);
  assert.is(result.states[0]!.releases[0]!.draft, false);
  assert.equal(result.states[0]!.releases[0]!.publishedAt, new Date('2024-06-02T00:00:00Z'));
});

states('more than 100 names take one query per 100', async ({ fake }) => {
  const names = readTagList('git__git').slice(0, 250).map((tag) => tag.name);
  const client = fakeClient(fake);
  const result = await fetchTagStates(client, repoRef('git/git'), names);
  assert.is(result.states.length, 250);
  assert.ok(result.states.every((state) => state.tag !== null));
  assert.is(client.stats().requests, 3);
});

states('a renamed repository is found by its old name and reports its new one', async ({ fake }) => {
  const repo = fake.addRepository({ owner: 'acme', name: 'old-name' });
  repo.addTag({ name: 'v1.0.0' });
  fake.renameRepository('acme/old-name', 'acme-corp/new-name');
  const result = await fetchTagStates(fakeClient(fake), repoRef('acme/old-name'), ['v1.0.0']);
  assert.equal(result.repository, { databaseId: repo.id, nameWithOwner: 'acme-corp/new-name' });
  assert.ok(result.states[0]!.tag !== null);
});

states('an unknown repository is a GitHubNotFoundError', async ({ fake }) => {
  const error = await rejection(fetchTagStates(fakeClient(fake), repoRef('acme/nowhere'), ['v1.0.0']));
  assert.is(error.name, 'GitHubNotFoundError');
  assert.match(error.message, /Could not resolve to a Repository/);
});

states.run();
