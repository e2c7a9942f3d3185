import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { GitHubRequestRejectedError } from '../src/errors.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { fakeClient, rejection, TEST_TOKEN } from './support/github.ts';

const validation = suite<{ fake: FakeGitHub }>("GraphQL queries checked against GitHub's schema", {} as never);

validation.before(async (context) => {
  context.fake = await startFakeGitHub();
  context.fake.addFixtureRepository('sourcegraph__src-cli');
});

validation.after(async ({ fake }) => {
  await fake.close();
});

async function post(fake: FakeGitHub, body: unknown, token: string | null = TEST_TOKEN) {
  const response = await fetch(`${fake.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as { data?: unknown; errors?: Array<Record<string, unknown>> } };
}

validation('an unknown field is rejected as GitHub does: 200, no data, an undefinedField error', async ({ fake }) => {
  const answer = await post(fake, { query: 'query { repository(owner: "sourcegraph", name: "src-cli") { databaseId bogusField } }' });
  assert.is(answer.status, 200);
  assert.is(answer.body.data, undefined);
  assert.equal(answer.body.errors, [
    {
      extensions: { code: 'undefinedField', typeName: 'Repository', fieldName: 'bogusField' },
      locations: [{ line: 1, column: 72 }],
      message: "Field 'bogusField' doesn't exist on type 'Repository'",
    },
  ]);
});

validation('through the client, a rejected query is GitHubRequestRejectedError (not retried)', async ({ fake }) => {
  fake.resetRequests();
  const client = fakeClient(fake);
  const error = await rejection(client.graphql('graphql Bogus', 'query Bogus { viewer { noSuchField } }', {}, z.unknown()));
  assert.instance(error, GitHubRequestRejectedError);
  assert.match(error.message, /Field 'noSuchField' doesn't exist on type 'User'/);
  assert.is((error as GitHubRequestRejectedError).retryable, false);
  assert.is(fake.counts().total, 1);
});

validation('wrong argument types, missing variables and syntax errors are rejected', async ({ fake }) => {
  const wrongType = await post(fake, { query: 'query { repository(owner: 1, name: "src-cli") { databaseId } }' });
  assert.ok((wrongType.body.errors ?? []).length > 0);
  const missingVariable = await post(fake, { query: 'query Q($owner: String!) { repository(owner: $owner, name: "src-cli") { databaseId } }', variables: {} });
  assert.ok((missingVariable.body.errors ?? []).length > 0);
  assert.is(missingVariable.body.data, undefined);
  const syntax = await post(fake, { query: 'query { repository(owner: "x" name: ' });
  assert.match(String(syntax.body.errors?.[0]?.message), /^Parse error/);
});

validation('connections need first or last, at most 100', async ({ fake }) => {
  const unbounded = await post(fake, { query: 'query { repository(owner: "sourcegraph", name: "src-cli") { refs(refPrefix: "refs/tags/") { nodes { name } } } }' });
  assert.is(unbounded.body.errors?.[0]?.type, 'MISSING_PAGINATION_BOUNDARIES');
  const excessive = await post(fake, { query: 'query { repository(owner: "sourcegraph", name: "src-cli") { refs(refPrefix: "refs/tags/", first: 101) { nodes { name } } } }' });
  assert.is(excessive.body.errors?.[0]?.type, 'EXCESSIVE_PAGINATION');
  assert.match(String(excessive.body.errors?.[0]?.message), /Requesting 101 records on the `refs` connection exceeds the `first` limit of 100 records/);
});

validation('a valid query is executed against the fake data with GitHub cursors and the cost', async ({ fake }) => {
  const answer = await post(fake, {
    query: `query { rateLimit { cost remaining }
      repository(owner: "sourcegraph", name: "src-cli") { nameWithOwner refs(refPrefix: "refs/tags/", first: 2) { totalCount pageInfo { endCursor hasNextPage } edges { cursor node { name } } } } }`,
  });
  assert.is(answer.status, 200);
  const data = answer.body.data as {
    rateLimit: { cost: number };
    repository: { nameWithOwner: string; refs: { totalCount: number; pageInfo: { endCursor: string; hasNextPage: boolean }; edges: Array<{ cursor: string }> } };
  };
  assert.is(data.rateLimit.cost, 1);
  assert.is(data.repository.nameWithOwner, 'sourcegraph/src-cli');
  assert.is(data.repository.refs.totalCount, 228);
  assert.equal(data.repository.refs.edges.map((edge) => edge.cursor), ['MQ==', 'Mg==']);
  assert.is(data.repository.refs.pageInfo.endCursor, 'Mg==');
  assert.is(data.repository.refs.pageInfo.hasNextPage, true);
});

validation('nested connections are priced as GitHub prices them', async ({ fake }) => {
  // 1 request for the releases connection + 100 for the asset connections under 100 releases.
  const answer = await post(fake, {
    query: 'query { rateLimit { cost } repository(owner: "sourcegraph", name: "src-cli") { releases(first: 100) { nodes { releaseAssets(first: 100) { totalCount } } } } }',
  });
  assert.is((answer.body.data as { rateLimit: { cost: number } }).rateLimit.cost, 1);
  // 1 (refs) + 100 (pull requests under 100 refs) + 1,000 (commits under 1,000 pull requests) = 1,101 requests.
  const bigger = await post(fake, {
    query: 'query { rateLimit { cost } repository(owner: "sourcegraph", name: "src-cli") { refs(refPrefix: "refs/tags/", first: 100) { nodes { associatedPullRequests(first: 10) { nodes { commits(first: 10) { totalCount } } } } } } }',
  });
  assert.is((bigger.body.data as { rateLimit: { cost: number } }).rateLimit.cost, 11);
  // 100 × 100 × 100 possible nodes is over GitHub's 500,000 node limit.
  const tooMany = await post(fake, {
    query: 'query { repository(owner: "sourcegraph", name: "src-cli") { refs(refPrefix: "refs/tags/", first: 100) { nodes { associatedPullRequests(first: 100) { nodes { commits(first: 100) { totalCount } } } } } } }',
  });
  assert.is(tooMany.body.errors?.[0]?.type, 'MAX_NODE_LIMIT_EXCEEDED');
});

validation('GraphQL needs a token; an unknown repository is NOT_FOUND with a null repository', async ({ fake }) => {
  const anonymous = await post(fake, { query: 'query { viewer { login } }' }, null);
  assert.is(anonymous.status, 401);
  assert.is((anonymous.body as { message?: string }).message, 'This endpoint requires you to be authenticated.');
  const missing = await post(fake, { query: 'query { repository(owner: "acme", name: "nothing") { databaseId } }' });
  assert.equal(missing.body.data, { repository: null });
  assert.is(missing.body.errors?.[0]?.type, 'NOT_FOUND');
  assert.equal(missing.body.errors?.[0]?.path, ['repository']);
});

validation.run();
