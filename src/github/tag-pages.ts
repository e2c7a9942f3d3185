import { z } from 'zod';
import type { TagFact } from '../db/releases.ts';
import { GitHubMalformedResponseError } from '../errors.ts';
import type { GitHubClient } from './client.ts';
import type { RepositoryIdentity, RepositoryRef } from './repository-ref.ts';
import { ItemParser } from './response-items.ts';
import { repositoryIdentitySchema } from './schemas.ts';
import { peelDeepTags, TAG_TARGET_FRAGMENT, tagTargetSchema, toTagFact } from './tag-target.ts';

// Every tag of a repository with its shas and date, 100 per GraphQL query: the only bulk source of
// tag dates (REST would need one call per tag object or commit). Pages come in name order; the
// cursor of a page can be saved and the listing resumed after it. Each page is handed over before
// the next is asked for, so memory does not grow with the number of tags.

export const TAG_PAGE_SIZE = 100;

// `rateLimit { cost }` is read by the client's accounting (costOf in client.ts): the points a sync spends.
const TAG_PAGE_QUERY = `query TagPage($owner: String!, $name: String!, $first: Int!, $after: String) {
  rateLimit { cost }
  repository(owner: $owner, name: $name) {
    databaseId
    nameWithOwner
    refs(refPrefix: "refs/tags/", first: $first, after: $after, orderBy: { field: ALPHABETICAL, direction: ASC }) {
      pageInfo { endCursor hasNextPage }
      nodes { name target { ...TagTarget } }
    }
  }
}
${TAG_TARGET_FRAGMENT}`;

const tagPageResponse = z.object({
  repository: repositoryIdentitySchema.extend({
    refs: z.object({
      pageInfo: z.object({ endCursor: z.string().nullable(), hasNextPage: z.boolean() }),
      // Items are parsed one by one below: a bad one is dropped, not fatal to the page.
      nodes: z.array(z.unknown()),
    }),
  }),
});

const tagNode = z.object({ name: z.string().min(1), target: tagTargetSchema });

export type TagPage = {
  tags: TagFact[];
  /** Resume a listing after this page by passing it as `after`. Null for an empty listing. */
  endCursor: string | null;
  hasNextPage: boolean;
  /** Items that did not parse and were left out (each logged). A listing with drops is incomplete. */
  dropped: number;
  repository: RepositoryIdentity;
};

export type TagPagesOptions = {
  /** Start after this cursor (a saved `endCursor`); from the first tag when absent. */
  after?: string | null;
  pageSize?: number;
};

/** The repository's tags, one page per GraphQL query. */
export async function* tagPages(client: GitHubClient, repository: RepositoryRef, options: TagPagesOptions = {}): AsyncGenerator<TagPage> {
  const endpoint = 'graphql TagPage';
  let after = options.after ?? null;
  for (;;) {
    const data = await client.graphql(
      endpoint,
      TAG_PAGE_QUERY,
      { owner: repository.owner, name: repository.repo, first: options.pageSize ?? TAG_PAGE_SIZE, after },
      tagPageResponse,
    );
    const { refs } = data.repository;
    const tags: TagFact[] = [];
    const unpeeled: Parameters<typeof peelDeepTags>[2][number][] = [];
    const items = new ItemParser({
      logger: client.logger,
      endpoint,
      schema: tagNode,
      noun: 'tag',
      path: 'repository.refs.nodes',
      describe: (node) => ({ name: (node as { name?: unknown } | null)?.name }),
    });
    for (const node of refs.nodes) {
      const parsed = items.parse(node);
      if (parsed === undefined) continue;
      const result = toTagFact(parsed.name, parsed.target);
      tags.push(result.fact);
      if (result.unpeeled !== undefined) unpeeled.push(result.unpeeled);
    }
    items.finish();
    if (unpeeled.length > 0) await peelDeepTags(client, repository, unpeeled);
    yield {
      tags,
      endCursor: refs.pageInfo.endCursor ?? after,
      hasNextPage: refs.pageInfo.hasNextPage,
      dropped: items.dropped,
      repository: { databaseId: data.repository.databaseId, nameWithOwner: data.repository.nameWithOwner },
    };
    if (!refs.pageInfo.hasNextPage) return;
    if (refs.pageInfo.endCursor === null || refs.pageInfo.endCursor === after) {
      throw new GitHubMalformedResponseError(endpoint, [{ path: 'repository.refs.pageInfo.endCursor', message: 'hasNextPage without a new cursor' }]);
    }
    after = refs.pageInfo.endCursor;
  }
}
