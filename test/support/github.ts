import { suite, type Test } from 'uvu';
import { createGitHubClient, type GitHubClient, type GitHubClientOptions } from '../../src/github/client.ts';
import type { RepositoryRef } from '../../src/github/repository-ref.ts';
import { tagPages } from '../../src/github/tag-pages.ts';
import type { TagFact } from '../../src/db/releases.ts';
import { quietLogger } from './database.ts';
import { startFakeGitHub, type FakeGitHub } from './fake-github/index.ts';
import type { FixtureTag, TagList } from './fixtures.ts';

export const TEST_TOKEN = 'ghp_test-token-for-the-fake';

/** A client of the fake GitHub whose retries wait milliseconds instead of seconds. */
export function fakeClient(fake: FakeGitHub, options: Partial<GitHubClientOptions> = {}): GitHubClient {
  return createGitHubClient({ baseUrl: fake.url, token: TEST_TOKEN, logger: quietLogger, retryUnitMs: 1, ...options });
}

export function repoRef(fullName: string): RepositoryRef {
  const [owner, repo] = fullName.split('/') as [string, string];
  return { owner, repo };
}

/** Every tag of a repository through the GraphQL pages, keyed by name. */
export async function allTags(client: GitHubClient, repository: RepositoryRef): Promise<Map<string, TagFact>> {
  const tags = new Map<string, TagFact>();
  for await (const page of tagPages(client, repository)) for (const tag of page.tags) tags.set(tag.name, tag);
  return tags;
}

/** What the fixture says the client must conclude about a real tag (src/domain/README.md). */
export function expectedFact(tag: FixtureTag): { name: string; refSha: string; gitSha: string | null; taggedAt: number | null } {
  return {
    name: tag.name,
    refSha: tag.object_sha,
    gitSha: tag.peeled_type === 'commit' ? tag.peeled_sha : null,
    taggedAt: tag.date === null ? null : new Date(tag.date).getTime(),
  };
}

export function comparableFact(tag: TagFact | undefined) {
  return tag === undefined ? undefined : { name: tag.name, refSha: tag.refSha, gitSha: tag.gitSha, taggedAt: tag.taggedAt?.getTime() ?? null };
}

/** Rejects with the error `promise` rejects with, or fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection, got a result');
}

/**
 * A uvu suite with a fake GitHub serving the fixture repositories given (every tag with a
 * release), its faults and request records cleared before each test.
 */
export function fakeGitHubSuite(title: string, fixtures: readonly TagList[]): Test<{ fake: FakeGitHub }> {
  const tests = suite<{ fake: FakeGitHub }>(title, {} as never);
  tests.before(async (context) => {
    context.fake = await startFakeGitHub();
    for (const fixture of fixtures) context.fake.addFixtureRepository(fixture, { releases: 'all' });
  });
  tests.after(async ({ fake }) => {
    await fake.close();
  });
  tests.before.each(({ fake }) => {
    fake.clearFaults();
    fake.resetRequests();
  });
  return tests;
}
