import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError, InvalidInputError } from '../src/errors.ts';
import { fetchRepository } from '../src/github/repository.ts';
import { parseRepositoryName } from '../src/github/repository-ref.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { fakeClient, rejection, repoRef } from './support/github.ts';

const repository = suite<{ fake: FakeGitHub }>('repository identity', {} as never);

repository.before(async (context) => {
  context.fake = await startFakeGitHub({ token: 'ghp_test-token-for-the-fake' });
});

repository.after(async ({ fake }) => {
  await fake.close();
});

repository('the id and name GitHub reports; a renamed repository is followed through its 301', async ({ fake }) => {
  const repo = fake.addRepository({ owner: 'acme', name: 'widget' });
  const client = fakeClient(fake);
  assert.equal(await fetchRepository(client, repoRef('acme/widget')), { databaseId: repo.id, nameWithOwner: 'acme/widget', defaultBranch: 'main', private: false });

  fake.renameRepository('acme/widget', 'acme-labs/widget-2');
  fake.resetRequests();
  const renamed = await fetchRepository(client, repoRef('acme/widget'));
  assert.equal(renamed, { databaseId: repo.id, nameWithOwner: 'acme-labs/widget-2', defaultBranch: 'main', private: false });
  assert.equal(fake.requests.map((request) => [request.status, request.path]), [
    [301, '/repos/acme/widget'],
    [200, `/repositories/${repo.id}`],
  ]);
});

repository('a token GitHub rejects is a configuration error naming GITHUB_TOKEN', async ({ fake }) => {
  fake.addRepository({ owner: 'acme', name: 'secret' });
  const error = await rejection(fetchRepository(fakeClient(fake, { token: 'wrong' }), repoRef('acme/secret')));
  assert.instance(error, ConfigError);
  assert.is((error as ConfigError).variable, 'GITHUB_TOKEN');
  assert.match(error.message, /Bad credentials/);
});

repository('"owner/name" parses; anything else is invalid input', () => {
  assert.equal(parseRepositoryName('sourcegraph/src-cli'), { owner: 'sourcegraph', repo: 'src-cli' });
  for (const bad of ['src-cli', 'a/b/c', '/b', 'a/', 'a b/c']) {
    assert.throws(() => parseRepositoryName(bad), (error: unknown) => error instanceof InvalidInputError, bad);
  }
});

repository.run();
