import { JSONParser, TokenizerError, TokenParserError } from '@streamparser/json';
import { z } from 'zod';
import { GitHubMalformedResponseError, GitHubRequestRejectedError, GitHubUnavailableError } from '../errors.ts';
import type { GitHubClient } from './client.ts';
import { isNotModified } from './github-error.ts';
import type { RepositoryRef } from './repository-ref.ts';
import { ItemParser } from './response-items.ts';
import { objectId } from './schemas.ts';

// Every tag ref of a repository in one REST response: GET /repos/{owner}/{repo}/git/matching-refs/tags
// (GitHub's OpenAPI description gives this endpoint no pagination parameters). Asked with the ETag
// of the last listing, an unchanged repository answers 304, which costs no rate-limit point: the
// cheap "did any tag change?" probe of a sync.
//
// Memory: the answer grows with the tags (about 330 bytes of JSON per tag, 33 MB for 100,000), and
// JSON.parse of the whole body would hold the text and every full object at once (~100 MB at
// 100,000 tags). The body is parsed as it streams instead (@streamparser/json), each ref reduced
// to { name, sha, type } at once and handed over in batches: what stays is what the caller keeps.

export type TagRefType = 'commit' | 'tag' | 'blob' | 'tree';
/** A tag ref: its short name ("v1.2.3") and what it points at (a tag object or a commit, usually). */
export type TagRef = { name: string; sha: string; type: TagRefType };

const TAG_PREFIX = 'refs/tags/';

/** One item of matching-refs (test/fixtures/rest/git-ref-items.json). */
const gitRefSchema = z.object({
  ref: z.string(),
  object: z.object({ sha: objectId, type: z.enum(['commit', 'tag', 'blob', 'tree']) }),
});

export type TagRefStream =
  | { notModified: true; etag: string }
  | {
      notModified: false;
      etag: string | null;
      /** Batches of refs in GitHub's order (by name). Consume once; a failure midway throws. */
      batches: AsyncGenerator<TagRef[]>;
      /** Items dropped so far because they did not parse (each logged). Read after consuming. */
      dropped: () => number;
      /** Closes the answer unread, when only its ETag was wanted. */
      discard: () => Promise<void>;
      /**
       * Whether this is the whole listing, to tombstone by (read after consuming): not when items
       * were dropped, nor when GitHub said the repository has no commits (409) instead of listing
       * its refs (such a refusal of a repository that has tags must not tombstone them all).
       */
      complete: () => boolean;
    };

export type TagRefOptions = {
  /** ETag of an earlier listing: an unchanged repository answers 304. */
  etag?: string | null;
  /** Refs per batch handed to the caller. */
  batchSize?: number;
};

const endpoint = 'GET /repos/{owner}/{repo}/git/matching-refs/{ref}';

/** Streams the repository's tag refs; asks conditionally when `etag` is given. */
export async function streamTagRefs(client: GitHubClient, repository: RepositoryRef, options: TagRefOptions = {}): Promise<TagRefStream> {
  let response: { headers: Record<string, string | number | undefined>; data: unknown };
  try {
    response = await client.octokit.request('GET /repos/{owner}/{repo}/git/matching-refs/{ref}', {
      owner: repository.owner,
      repo: repository.repo,
      // "tags" also matches refs named refs/tagsX/…; those are filtered out below.
      ref: 'tags',
      headers: options.etag ? { 'if-none-match': options.etag } : {},
      request: { parseSuccessResponseBody: false },
    });
  } catch (error) {
    if (isNotModified(error) && options.etag) return { notModified: true, etag: String(error.response.headers.etag ?? options.etag) };
    // A repository without a first commit has no refs at all: GitHub answers 409 "Git Repository
    // is empty." That is an empty listing (no ETag: the next run asks again), not a failure.
    if (error instanceof GitHubRequestRejectedError && error.httpStatus === 409 && /repository is empty/i.test(error.message)) return emptyListing();
    throw error;
  }
  const body = response.data;
  if (!isByteStream(body)) {
    throw new GitHubMalformedResponseError(endpoint, [{ path: '', message: 'expected a response body' }]);
  }
  const items = new ItemParser({ logger: client.logger, endpoint, schema: gitRefSchema, noun: 'tag ref' });
  const batches = parseRefs(body, options.batchSize ?? 1000, items);
  const discard = async () => {
    const cancel = (body as { cancel?: () => Promise<void> }).cancel;
    if (typeof cancel === 'function') await cancel.call(body).catch(() => undefined);
  };
  return {
    notModified: false,
    etag: response.headers.etag === undefined ? null : String(response.headers.etag),
    batches,
    dropped: () => items.dropped,
    complete: () => items.dropped === 0,
    discard,
  };
}

function emptyListing(): TagRefStream {
  return {
    notModified: false,
    etag: null,
    batches: (async function* () {})(),
    dropped: () => 0,
    complete: () => false,
    discard: async () => undefined,
  };
}

/** Every tag ref at once (about 150 bytes of memory per tag), or `notModified`. */
export async function fetchTagRefs(
  client: GitHubClient,
  repository: RepositoryRef,
  options: Omit<TagRefOptions, 'batchSize'> = {},
): Promise<{ notModified: true; etag: string } | { notModified: false; etag: string | null; refs: TagRef[]; dropped: number }> {
  const stream = await streamTagRefs(client, repository, options);
  if (stream.notModified) return stream;
  const refs: TagRef[] = [];
  for await (const batch of stream.batches) refs.push(...batch);
  return { notModified: false, etag: stream.etag, refs, dropped: stream.dropped() };
}

async function* parseRefs(body: AsyncIterable<Uint8Array>, batchSize: number, items: ItemParser<z.infer<typeof gitRefSchema>>): AsyncGenerator<TagRef[]> {
  const parser = new JSONParser({ paths: ['$.*'], keepStack: false });
  let batch: TagRef[] = [];
  let first = true;
  parser.onValue = ({ value }) => {
    const ref = items.parse(value);
    if (ref === undefined || !ref.ref.startsWith(TAG_PREFIX)) return;
    batch.push({ name: ref.ref.slice(TAG_PREFIX.length), sha: ref.object.sha, type: ref.object.type });
  };
  try {
    for await (const chunk of body) {
      if (first) {
        // A JSON object here is not the list (an error document); anything but an array is unusable.
        const start = Buffer.from(chunk).toString('utf8').trimStart();
        if (start === '') continue;
        first = false;
        if (!start.startsWith('[')) {
          throw new GitHubMalformedResponseError(endpoint, [{ path: '', message: `expected an array of refs, got ${JSON.stringify(start.slice(0, 40))}` }]);
        }
      }
      parser.write(chunk);
      if (batch.length >= batchSize) {
        const full = batch;
        batch = [];
        yield full;
      }
    }
    if (first) throw new GitHubMalformedResponseError(endpoint, [{ path: '', message: 'empty response body' }]);
    if (!parser.isEnded) parser.end();
  } catch (error) {
    if (error instanceof GitHubMalformedResponseError) throw error;
    if (error instanceof TokenizerError || error instanceof TokenParserError) {
      throw new GitHubMalformedResponseError(endpoint, [{ path: '', message: error.message }], { cause: error });
    }
    throw new GitHubUnavailableError(`${endpoint}: the response broke off (${error instanceof Error ? error.message : String(error)})`, undefined, { cause: error });
  }
  items.finish();
  if (batch.length > 0) yield batch;
}

function isByteStream(value: unknown): value is AsyncIterable<Uint8Array> {
  return typeof value === 'object' && value !== null && Symbol.asyncIterator in value;
}
