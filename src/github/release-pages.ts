import type { GithubReleaseFact } from '../db/releases.ts';
import { GitHubMalformedResponseError } from '../errors.ts';
import type { GitHubClient } from './client.ts';
import { isNotModified } from './github-error.ts';
import { nextPageUrl } from './link-header.ts';
import type { RepositoryRef } from './repository-ref.ts';
import { ItemParser } from './response-items.ts';
import { restReleaseSchema } from './schemas.ts';

// GitHub releases over REST, 100 per page, newest first, following Link rel="next". Drafts are
// listed only to tokens with push access to the repository.
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
};

type RestResponse = { status: number; url: string; headers: Record<string, string | number | undefined>; data: unknown };

/** Lists the repository's releases; asks conditionally when `etag` is given. */
export async function fetchReleasePages(client: GitHubClient, repository: RepositoryRef, options: ReleaseListingOptions = {}): Promise<ReleaseListing> {
  let first: RestResponse;
  try {
    first = await client.octokit.request('GET /repos/{owner}/{repo}/releases', {
      owner: repository.owner,
      repo: repository.repo,
      per_page: options.perPage ?? RELEASE_PAGE_SIZE,
      ...(options.startPage !== undefined && options.startPage > 1 ? { page: options.startPage } : {}),
      headers: options.etag ? { 'if-none-match': options.etag } : {},
    });
  } catch (error) {
    if (isNotModified(error) && options.etag) return { notModified: true, etag: String(error.response.headers.etag ?? options.etag) };
    throw error;
  }
  return { notModified: false, etag: headerText(first.headers.etag), pages: releasePages(client, first, options.startPage ?? 1) };
}

async function* releasePages(client: GitHubClient, first: RestResponse, startPage: number): AsyncGenerator<ReleasePage> {
  const endpoint = 'GET /repos/{owner}/{repo}/releases';
  let response = first;
  for (let page = Math.max(1, startPage); ; page += 1) {
    if (!Array.isArray(response.data)) {
      throw new GitHubMalformedResponseError(endpoint, [{ path: '', message: `expected an array of releases, got ${describe(response.data)}` }]);
    }
    const items = new ItemParser({
      logger: client.logger,
      endpoint,
      schema: restReleaseSchema,
      noun: 'release',
      context: { page },
      describe: (item) => ({ id: (item as { id?: unknown } | null)?.id }),
    });
    const releases: GithubReleaseFact[] = [];
    for (const item of response.data) {
      const release = items.parse(item);
      if (release !== undefined) releases.push(release);
    }
    items.finish();
    const next = nextPageUrl(headerText(response.headers.link) ?? undefined, client.baseUrl, endpoint);
    yield { releases, page, etag: headerText(response.headers.etag), hasNextPage: next !== null, dropped: items.dropped };
    if (next === null) return;
    response = await client.octokit.request({ method: 'GET', url: next });
  }
}

function headerText(value: string | number | undefined): string | null {
  return value === undefined ? null : String(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `text (${value.length} characters)`;
  return typeof value;
}
