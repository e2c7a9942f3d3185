import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { loadConfig } from '../src/config.ts';
import { renderMetrics } from '../src/metrics/registry.ts';
import { githubTagStateReader } from '../src/webhooks/tag-states.ts';
import { createWorkerGitHubClient } from '../workers/github-client.ts';
import { quietLogger } from './support/database.ts';
import { startFakeGitHub, type FakeGitHub } from './support/fake-github/index.ts';
import { TEST_TOKEN } from './support/github.ts';
import { parseExposition, value } from './support/metrics.ts';

// The worker's one GitHub client: webhook ingestion's reads are counted and move the rate-limit
// gauges as they are answered, as a sync's are.

const client = suite<{ fake: FakeGitHub }>('worker GitHub client', {} as never);

client.before(async (context) => {
  context.fake = await startFakeGitHub({ token: TEST_TOKEN, graphqlLimit: 4_000 });
  context.fake.addRepository({ owner: 'acme', name: 'widget' });
});

client.after(async ({ fake }) => {
  await fake.close();
});

const scrape = async () => parseExposition((await renderMetrics()).body);

client('webhook ingestion reads are counted and set the graphql rate-limit gauges', async ({ fake }) => {
  const github = createWorkerGitHubClient(loadConfig({ GITHUB_API_URL: fake.url, GITHUB_TOKEN: TEST_TOKEN }), quietLogger);
  const before = value(await scrape(), 'release_registry_github_requests_total', { api: 'graphql', status: '2xx' }) ?? 0;
  fake.resetRequests();
  await githubTagStateReader(github)({ owner: 'acme', repo: 'widget' }, ['v1.0.0']);
  const sent = fake.counts().byEndpoint.graphql ?? 0;
  assert.ok(sent >= 1);
  const metrics = await scrape();
  assert.is(value(metrics, 'release_registry_github_requests_total', { api: 'graphql', status: '2xx' }), before + sent);
  assert.is(value(metrics, 'release_registry_github_rate_limit_limit', { resource: 'graphql' }), 4_000);
  assert.is(value(metrics, 'release_registry_github_rate_limit_remaining', { resource: 'graphql' }), github.stats().rateLimits.graphql?.remaining);
});

client.run();
