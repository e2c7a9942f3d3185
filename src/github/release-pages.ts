import { z } from 'zod';
import type { GithubReleaseFact } from '../db/releases.ts';
import { GitHubMalformedResponseError, GitHubRequestRejectedError } from '../errors.ts';
import type { GitHubClient } from './client.ts';
import { isNotModified } from './github-error.ts';
import { nextPageUrl } from './link-header.ts';
import type { RepositoryRef } from './repository-ref.ts';
import { ItemParser } from './response-items.ts';
import { GRAPHQL_RELEASE_FIELDS, graphqlReleaseSchema, restReleaseSchema } from './schemas.ts';

// GitHub releases over REST, 100 per page, newest first, following Link rel="next". Drafts are
// listed only to tokens with push access to the repository.
//
// GitHub lists only the first 1,000 releases over REST: the page after answers 422 "Only the first
// 1000 results are available." The listing then goes on over GraphQL, oldest first (a connection
// without that cap), for the releases the REST pages could not reach, and one page more, so that
// releases sharing the boundary's creation time are not missed; what it lists twice is written
// once (upserts by id).
//
// The first page can be asked for conditionally with the ETag of an earlier listing: 304 means
// "not modified" and costs no rate-limit point. Caveat: that ETag covers the first page only (the
// 100 newest releases). A new, deleted or re-ordered release shows there; an edit of an older
// release does not, so a periodic unconditional listing (or webhooks) must catch those.
// https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate

export const RELEASE_PAGE_SIZE = 100;

export type ReleasePage = {
  releases: GithubReleaseFact[];
  /** 1-based page number. */
  page: number;
  etag: string | null;
  hasNextPage: boolean;
  /** Items that did not parse and were left out (each logged). A listing with drops is incomplete. */
  dropped: number;
  /**
   * The REST cap was met and `pastCap` was off: this last page is empty, and the listing did not
   * reach the end of the releases.
   */
  capped?: true;
};

export type ReleaseListing =
  | { notModified: true; etag: string }
  | {
      notModified: false;
      /** ETag of the first page: store it once the whole listing is processed. */
      etag: string | null;
      /** The pages, the first one already fetched. Consume in order; each is fetched on demand. */
      pages: AsyncGenerator<ReleasePage>;
    };

export type ReleaseListingOptions = {
  /** ETag of the first page from an earlier listing: an unchanged first page answers 304. */
  etag?: string | null;
  perPage?: number;
  /** Start at this 1-based page (resuming a listing); Link headers lead on from there. */
  startPage?: number;
  /**
   * Past GitHub's REST cap, go on over GraphQL (default). Off for a listing that pages newest first
   * only as far as it needs (an incremental pass): the oldest releases are not what it looks for.
   */
  pastCap?: boolean;
};

type RestResponse = { status: number; url: string; headers: Record<string, string | number | undefined>; data: unknown };

/** Lists the repository's releases; asks conditionally when `etag` is given. */
export async function fetchReleasePages(client: GitHubClient, repository: RepositoryRef, options: ReleaseListingOptions = {}): Promise<ReleaseListing> {
  let first: RestResponse;
  const startPage = Math.max(1, options.startPage ?? 1);
  try {
    first = await client.octokit.request('GET /repos/{owner}/{repo}/releases', {
      owner: repository.owner,
      repo: repository.repo,
      per_page: options.perPage ?? RELEASE_PAGE_SIZE,
      ...(startPage > 1 ? { page: startPage } : {}),
      headers: options.etag ? { 'if-none-match': options.etag } : {},
    });
  } catch (error) {
    if (isNotModified(error) && options.etag) return { notModified: true, etag: String(error.response.headers.etag ?? options.etag) };
    // Resuming past the REST cap: the releases beyond it, over GraphQL, again from their start.
    const cap = listingCapOf(error);
    if (cap !== null && startPage > 1) return { notModified: false, etag: null, pages: pastTheCap(client, repository, cap, startPage, options.pastCap ?? true) };
    throw error;
  }
  return { notModified: false, etag: headerText(first.headers.etag), pages: releasePages(client, repository, first, startPage, options.pastCap ?? true) };
}

/** What comes after GitHub's REST cap: the rest over GraphQL, or one empty page saying the listing stops there. */
async function* pastTheCap(client: GitHubClient, repository: RepositoryRef, cap: number, page: number, goOn: boolean): AsyncGenerator<ReleasePage> {
  if (goOn) yield* releasesBeyondCap(client, repository, cap, page);
  else yield { releases: [], page, etag: null, hasNextPage: false, dropped: 0, capped: true };
}

async function* releasePages(client: GitHubClient, repository: RepositoryRef, first: RestResponse, startPage: number, pastCap: boolean): AsyncGenerator<ReleasePage> {
  const endpoint = 'GET /repos/{owner}/{repo}/releases';
  let response = first;
  for (let page = startPage; ; page += 1) {
    if (!Array.isArray(response.data)) {
      throw new GitHubMalformedResponseError(endpoint, [{ path: '', message: `expected an array of releases, got ${describe(response.data)}` }]);
    }
    const { releases, dropped } = parseReleases(client, endpoint, restReleaseSchema, response.data, page, (item) => item.id);
    const next = nextPageUrl(headerText(response.headers.link) ?? undefined, client.baseUrl, endpoint);
    yield { releases, page, etag: headerText(response.headers.etag), hasNextPage: next !== null, dropped };
    if (next === null) return;
    try {
      response = await client.octokit.request({ method: 'GET', url: next });
    } catch (error) {
      const cap = listingCapOf(error);
      if (cap === null) throw error;
      yield* pastTheCap(client, repository, cap, page + 1, pastCap);
      return;
    }
  }
}

/** GitHub's refusal to list past the first `n` results (422), as `n`; null for any other error. */
function listingCapOf(error: unknown): number | null {
  if (!(error instanceof GitHubRequestRejectedError) || error.httpStatus !== 422) return null;
  const match = /only the first (\d+) results are available/i.exec(error.message);
  return match === null ? null : Number(match[1]);
}

const OLDEST_RELEASES_QUERY = `query OldestReleases($owner: String!, $name: String!, $after: String) {
  rateLimit { cost }
  repository(owner: $owner, name: $name) {
    releases(first: ${RELEASE_PAGE_SIZE}, after: $after, orderBy: { field: CREATED_AT, direction: ASC }) {
      totalCount
      pageInfo { endCursor hasNextPage }
      nodes { ${GRAPHQL_RELEASE_FIELDS} }
    }
  }
}`;

const oldestReleasesResponse = z.object({
  repository: z.object({
    releases: z.object({
      totalCount: z.number().int().nonnegative(),
      pageInfo: z.object({ endCursor: z.string().nullable(), hasNextPage: z.boolean() }),
      // Parsed one by one below: a bad item is dropped, not fatal to the page.
      nodes: z.array(z.unknown()),
    }),
  }),
});

/**
 * The releases the REST listing cannot reach (all but the newest `cap`), oldest first over GraphQL,
 * plus one page of overlap; numbered on from `firstPage`.
 */
async function* releasesBeyondCap(client: GitHubClient, repository: RepositoryRef, cap: number, firstPage: number): AsyncGenerator<ReleasePage> {
  const endpoint = 'graphql OldestReleases';
  let after: string | null = null;
  let listed = 0;
  for (let page = firstPage; ; page += 1) {
    const data: z.infer<typeof oldestReleasesResponse> = await client.graphql(
      endpoint,
      OLDEST_RELEASES_QUERY,
      { owner: repository.owner, name: repository.repo, after },
      oldestReleasesResponse,
    );
    const { releases: connection } = data.repository;
    const { releases, dropped } = parseReleases(client, endpoint, graphqlReleaseSchema, connection.nodes, page, (item) => item.databaseId);
    listed += connection.nodes.length;
    const more = connection.pageInfo.hasNextPage && listed < connection.totalCount - cap + RELEASE_PAGE_SIZE;
    yield { releases, page, etag: null, hasNextPage: more, dropped };
    if (!more) return;
    if (connection.pageInfo.endCursor === null || connection.pageInfo.endCursor === after) {
      throw new GitHubMalformedResponseError(endpoint, [{ path: 'repository.releases.pageInfo.endCursor', message: 'hasNextPage without a new cursor' }]);
    }
    after = connection.pageInfo.endCursor;
  }
}

/** The items of one page that parse as releases; the others are logged and counted as dropped. */
function parseReleases(
  client: GitHubClient,
  endpoint: string,
  schema: z.ZodType<GithubReleaseFact>,
  items: readonly unknown[],
  page: number,
  idOf: (item: Record<string, unknown>) => unknown,
): { releases: GithubReleaseFact[]; dropped: number } {
  const parser = new ItemParser({
    logger: client.logger,
    endpoint,
    schema,
    noun: 'release',
    context: { page },
    describe: (item) => ({ id: item !== null && typeof item === 'object' ? idOf(item as Record<string, unknown>) : undefined }),
  });
  const releases: GithubReleaseFact[] = [];
  for (const item of items) {
    const release = parser.parse(item);
    if (release !== undefined) releases.push(release);
  }
  parser.finish();
  return { releases, dropped: parser.dropped };
}

function headerText(value: string | number | undefined): string | null {
  return value === undefined ? null : String(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `text (${value.length} characters)`;
  return typeof value;
}
