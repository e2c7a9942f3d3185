import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readTagList, type FixtureTag, type TagList } from '../fixtures.ts';
import { prepareQuery, runQuery, type GraphqlErrorBody } from './graphql.ts';
import { FakeRepository, isoUtc, syntheticTagName, type ReleaseSpec } from './model.ts';
import {
  gitCommitJson,
  gitTagJson,
  rateLimitJson,
  refJson,
  releaseJson,
  repositoryJson,
  tagItemJson,
} from './rest-json.ts';

export { FakeRepository, syntheticTagName } from './model.ts';
export type { ExpectedTag, ReleaseRecord, ReleaseSpec, TagSpec } from './model.ts';

// A GitHub the tests own: node:http on an ephemeral loopback port that answers the REST routes and
// the GraphQL endpoint this project uses, as GitHub does (pagination, ETags, rate limits, errors),
// so that the real Octokit client pointed at `url` cannot tell. What is faithful and what is not:
// README.md beside this file.

export type Resource = 'core' | 'graphql';

export type RequestMatcher = {
  /** Endpoint name(s): repository, tags, releases, release-by-tag, release, matching-refs, ref, git-tag, git-commit, rate-limit, graphql, not-found. */
  endpoint?: string | readonly string[];
  method?: string;
  resource?: Resource;
  /** The GraphQL operation name (query TagPage … → "TagPage"). */
  operation?: string;
  /** Matched against the path (without the query). */
  path?: string | RegExp;
};

export type FaultSpec = RequestMatcher & {
  /** Fire on every Nth matching request (1 = every one); default: the first ones. */
  every?: number;
  /** How many times to fire; default 1 without `every`, unlimited with it. */
  times?: number;
} & (
    | { kind: 'status'; status: number }
    | { kind: 'secondary-rate-limit'; retryAfter?: number | null }
    | { kind: 'malformed'; mode: 'invalid-json' | 'wrong-shape' | 'bad-item' }
    | { kind: 'disconnect' }
    /** Answers normally, `ms` late (a slow GitHub, so that a test can act during a listing). */
    | { kind: 'delay'; ms: number }
  );

export type Fault = { readonly fired: number; remove: () => void };

export type RequestRecord = {
  seq: number;
  method: string;
  path: string;
  query: string;
  endpoint: string;
  resource: Resource;
  operation: string | null;
  status: number;
  points: number;
  ifNoneMatch: string | null;
  fault: string | null;
};

export type RequestCounts = {
  total: number;
  notModified: number;
  points: { core: number; graphql: number };
  byEndpoint: Record<string, number>;
  byStatus: Record<string, number>;
};

/** Releases to make for a seeded tag list: every tag, or a choice per tag. */
export type ReleaseSeeding = 'none' | 'all' | ((tag: FixtureTag, index: number) => Omit<ReleaseSpec, 'tagName'> | null);

export type FakeGitHubOptions = {
  /** When set, requests with another token get 401 "Bad credentials". GraphQL always needs one. */
  token?: string;
  /** Points per hour (GitHub: 5,000 for a user token). */
  coreLimit?: number;
  graphqlLimit?: number;
};

type Bucket = { limit: number; used: number; reset: number };

type Reply = {
  status: number;
  body?: unknown;
  /** A body produced in pieces (large listings); needs `etag`. */
  stream?: () => Iterable<string>;
  etag?: string;
  headers?: Record<string, string>;
  /** Not charged to the rate limit (GET /rate_limit). */
  free?: boolean;
};

type Route = { endpoint: string; resource: Resource; repository?: FakeRepository; handle: () => Reply };

const DOCS = 'https://docs.github.com/rest';

export class FakeGitHub {
  url = '';
  readonly #options: FakeGitHubOptions;
  readonly #repositories: FakeRepository[] = [];
  readonly #buckets: Record<Resource, Bucket>;
  readonly #faults: Array<{ spec: FaultSpec; seen: number; fired: number }> = [];
  #log: RequestRecord[] = [];
  #seq = 0;
  #nextRepositoryId = 100_001;
  #nextReleaseId = 5_000_001;
  readonly #server = createServer((request, response) => {
    this.#handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        response.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        response.end(JSON.stringify({ message: `fake GitHub failed: ${error instanceof Error ? error.message : String(error)}` }));
      } else {
        response.destroy();
      }
    });
  });

  constructor(options: FakeGitHubOptions = {}) {
    this.#options = options;
    const reset = () => Math.floor(Date.now() / 1000) + 3600;
    this.#buckets = {
      core: { limit: options.coreLimit ?? 5000, used: 0, reset: reset() },
      graphql: { limit: options.graphqlLimit ?? 5000, used: 0, reset: reset() },
    };
  }

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve()));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }

  // --- state -----------------------------------------------------------------------------

  /** A repository with the given tags (real tag-list entries) and releases for them. */
  addRepository(options: { owner: string; name: string; tags?: readonly FixtureTag[]; releases?: ReleaseSeeding }): FakeRepository {
    this.#assertFree(options.owner, options.name);
    const repo = FakeRepository.fromFixture({
      id: this.#nextRepositoryId++,
      owner: options.owner,
      name: options.name,
      tags: options.tags ?? [],
      nextReleaseId: () => this.#nextReleaseId++,
    });
    const seeding = options.releases ?? 'none';
    if (seeding !== 'none') {
      (options.tags ?? []).forEach((tag, index) => {
        const spec = seeding === 'all' ? {} : seeding(tag, index);
        if (spec === null) return;
        const created = new Date(new Date(tag.date ?? '2020-01-01T00:00:00Z').getTime() + 3_600_000);
        repo.createRelease({ tagName: tag.name, createdAt: created, ...spec });
      });
    }
    this.#repositories.push(repo);
    return repo;
  }

  /** A repository seeded from test/fixtures/tags/<list>.json, named after it unless told. */
  addFixtureRepository(list: TagList, options: { owner?: string; name?: string; releases?: ReleaseSeeding } = {}): FakeRepository {
    const [owner, name] = list.split('__') as [string, string];
    return this.addRepository({ owner: options.owner ?? owner, name: options.name ?? name, tags: readTagList(list), releases: options.releases ?? 'none' });
  }

  /**
   * A generated repository of any size for benchmarks: tags derived from their index (no memory per
   * tag), and `releases` releases for the first tags (every 10th a draft, every 7th a prerelease).
   */
  addSyntheticRepository(options: { owner: string; name: string; tags: number; releases?: number }): FakeRepository {
    this.#assertFree(options.owner, options.name);
    const repo = FakeRepository.synthetic({
      id: this.#nextRepositoryId++,
      owner: options.owner,
      name: options.name,
      tags: options.tags,
      nextReleaseId: () => this.#nextReleaseId++,
    });
    const start = Date.parse('2015-01-01T00:00:00Z');
    for (let index = 0; index < Math.min(options.releases ?? 0, options.tags); index += 1) {
      repo.createRelease({
        tagName: syntheticTagName(index),
        createdAt: new Date(start + index * 3_600_000 + 1_800_000),
        draft: index % 10 === 9,
        prerelease: index % 7 === 6,
      });
    }
    this.#repositories.push(repo);
    return repo;
  }

  repository(fullName: string): FakeRepository {
    const repo = this.#find(fullName, { followRenames: false });
    if (repo === undefined) throw new Error(`fake GitHub: no repository ${fullName}`);
    return repo;
  }

  /** Renames (or transfers) a repository; it keeps its id, and REST answers the old name with a 301. */
  renameRepository(from: string, to: string): FakeRepository {
    const repo = this.repository(from);
    const [owner, name] = to.split('/') as [string, string];
    this.#assertFree(owner, name);
    repo.previousNames.push(repo.fullName);
    repo.owner = owner;
    repo.name = name;
    return repo;
  }

  // --- rate limits and faults ------------------------------------------------------------

  /** Sets a bucket: `remaining: 0` exhausts it until `resetAt`. */
  setRateLimit(resource: Resource, state: { limit?: number; remaining?: number; resetAt?: Date }): void {
    const bucket = this.#bucket(resource);
    if (state.limit !== undefined) bucket.limit = state.limit;
    if (state.remaining !== undefined) bucket.used = bucket.limit - state.remaining;
    if (state.resetAt !== undefined) bucket.reset = Math.floor(state.resetAt.getTime() / 1000);
  }

  rateLimit(resource: Resource): { limit: number; used: number; remaining: number; resetAt: Date } {
    const bucket = this.#bucket(resource);
    return { limit: bucket.limit, used: bucket.used, remaining: Math.max(0, bucket.limit - bucket.used), resetAt: new Date(bucket.reset * 1000) };
  }

  addFault(spec: FaultSpec): Fault {
    const entry = { spec, seen: 0, fired: 0 };
    this.#faults.push(entry);
    return {
      get fired() {
        return entry.fired;
      },
      remove: () => {
        const index = this.#faults.indexOf(entry);
        if (index >= 0) this.#faults.splice(index, 1);
      },
    };
  }

  clearFaults(): void {
    this.#faults.length = 0;
  }

  // --- request log -----------------------------------------------------------------------

  /** Every request answered since the last `resetRequests()`, in order. */
  get requests(): readonly RequestRecord[] {
    return this.#log;
  }

  counts(filter: RequestMatcher = {}): RequestCounts {
    const counts: RequestCounts = { total: 0, notModified: 0, points: { core: 0, graphql: 0 }, byEndpoint: {}, byStatus: {} };
    for (const record of this.#log) {
      if (!matches(filter, record)) continue;
      counts.total += 1;
      if (record.status === 304) counts.notModified += 1;
      counts.points[record.resource] += record.points;
      counts.byEndpoint[record.endpoint] = (counts.byEndpoint[record.endpoint] ?? 0) + 1;
      counts.byStatus[String(record.status)] = (counts.byStatus[String(record.status)] ?? 0) + 1;
    }
    return counts;
  }

  resetRequests(): void {
    this.#log = [];
  }

  // --- HTTP ------------------------------------------------------------------------------

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', this.url);
    const method = request.method ?? 'GET';
    const bodyText = await readBody(request);
    const record: RequestRecord = {
      seq: ++this.#seq,
      method,
      path: url.pathname,
      query: url.search,
      endpoint: 'not-found',
      resource: url.pathname === '/graphql' ? 'graphql' : 'core',
      operation: null,
      status: 0,
      points: 0,
      ifNoneMatch: header(request, 'if-none-match'),
      fault: null,
    };
    const send = (reply: Reply) => this.#send(request, response, record, reply);

    const token = /^(?:token|bearer)\s+(\S+)$/i.exec(header(request, 'authorization') ?? '')?.[1];
    if ((token !== undefined && this.#options.token !== undefined && token !== this.#options.token) || (record.resource === 'graphql' && token === undefined)) {
      record.endpoint = record.resource === 'graphql' ? 'graphql' : 'unauthorized';
      const message = token === undefined ? 'This endpoint requires you to be authenticated.' : 'Bad credentials';
      return send({ status: 401, body: { message, documentation_url: DOCS, status: '401' }, free: true });
    }

    let graphqlBody: unknown;
    if (record.resource === 'graphql') {
      try {
        graphqlBody = JSON.parse(bodyText);
      } catch {
        graphqlBody = undefined;
      }
      const operation = /^\s*query\s+([A-Za-z_][A-Za-z0-9_]*)/.exec(String((graphqlBody as { query?: unknown } | undefined)?.query ?? ''));
      record.operation = operation?.[1] ?? null;
    }

    const route = this.#route(method, url, graphqlBody);
    record.endpoint = route.endpoint;
    record.resource = route.resource;

    let fault = this.#takeFault(record);
    if (fault?.kind === 'delay') {
      const { ms } = fault;
      record.fault = 'delay';
      await new Promise((resolve) => setTimeout(resolve, ms));
      fault = undefined;
    }
    if (fault !== undefined) {
      record.fault = fault.kind === 'malformed' ? `malformed:${fault.mode}` : fault.kind;
      if (fault.kind === 'disconnect') {
        record.status = 0;
        this.#log.push(record);
        request.socket.destroy();
        return;
      }
      if (fault.kind === 'status') {
        return send({ status: fault.status, body: { message: fault.status === 502 ? 'Server Error' : 'Service Unavailable', documentation_url: DOCS }, free: true });
      }
      if (fault.kind === 'secondary-rate-limit') {
        const headers: Record<string, string> = {};
        if (fault.retryAfter !== null) headers['retry-after'] = String(fault.retryAfter ?? 60);
        return send({
          status: 403,
          headers,
          free: true,
          body: {
            message:
              'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.',
            documentation_url: 'https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
          },
        });
      }
    }

    const bucket = this.#bucket(route.resource);
    if (route.endpoint !== 'rate-limit' && bucket.used >= bucket.limit) {
      if (route.resource === 'graphql') {
        // GitHub answers 200 with a RATE_LIMITED error to a GraphQL query over the primary limit.
        return send({ status: 200, free: true, body: { errors: [{ type: 'RATE_LIMITED', code: 'graphql_rate_limit', message: 'API rate limit already exceeded for user ID 1.' }] } });
      }
      return send({
        status: 403,
        free: true,
        body: {
          message: 'API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID 0000:0000:0000000:0000000:00000000.',
          documentation_url: 'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api',
          status: '403',
        },
      });
    }

    const reply = route.handle();
    if (fault?.kind === 'malformed') corrupt(reply, fault.mode);
    return send(reply);
  }

  #send(request: IncomingMessage, response: ServerResponse, record: RequestRecord, reply: Reply): void {
    const bucket = this.#bucket(record.resource);
    let etag = reply.etag;
    let text: string | undefined;
    if (reply.stream === undefined && reply.body !== undefined) {
      text = typeof reply.body === 'string' && reply.body.startsWith('\u0000raw:') ? reply.body.slice(5) : JSON.stringify(reply.body);
      if (request.method === 'GET' && reply.status === 200) etag ??= `W/"${createHash('sha256').update(text).digest('hex').slice(0, 40)}"`;
    }
    let status = reply.status;
    if (request.method === 'GET' && status === 200 && etag !== undefined && etagMatches(record.ifNoneMatch, etag)) status = 304;

    // GitHub charges every REST request but a 304 (and /rate_limit); the fake does not charge the
    // refusals it makes up (5xx, rate limits). GraphQL charges the query's computed cost.
    if (!reply.free && status !== 304 && status < 500) {
      record.points = record.resource === 'graphql' ? (reply.headers?.['x-fake-cost'] !== undefined ? Number(reply.headers['x-fake-cost']) : 0) : 1;
      bucket.used += record.points;
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'x-github-media-type': 'github.v3; format=json',
      'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
      'x-github-api-version-selected': '2022-11-28',
      'x-ratelimit-limit': String(bucket.limit),
      'x-ratelimit-remaining': String(Math.max(0, bucket.limit - bucket.used)),
      'x-ratelimit-reset': String(bucket.reset),
      'x-ratelimit-used': String(bucket.used),
      'x-ratelimit-resource': record.resource,
      ...Object.fromEntries(Object.entries(reply.headers ?? {}).filter(([name]) => !name.startsWith('x-fake-'))),
    };
    if (request.method === 'GET') {
      headers['cache-control'] = 'private, max-age=60, s-maxage=60';
      headers.vary = 'Accept, Authorization, Cookie, X-GitHub-OTP';
    }
    if (etag !== undefined && (status === 200 || status === 304)) headers.etag = etag;
    record.status = status;
    this.#log.push(record);
    if (status === 304) {
      delete headers['content-type'];
      response.writeHead(304, headers);
      response.end();
      return;
    }
    response.writeHead(status, headers);
    if (reply.stream !== undefined) {
      void writeStream(response, reply.stream());
      return;
    }
    response.end(text);
  }

  #route(method: string, url: URL, graphqlBody: unknown): Route {
    const notFound = (endpoint = 'not-found', repository?: FakeRepository): Route => ({
      endpoint,
      resource: 'core',
      ...(repository ? { repository } : {}),
      handle: () => ({ status: 404, body: { message: 'Not Found', documentation_url: DOCS, status: '404' } }),
    });
    const path = url.pathname;
    if (path === '/graphql') {
      if (method !== 'POST') return notFound('graphql');
      return { endpoint: 'graphql', resource: 'graphql', handle: () => this.#graphql(graphqlBody) };
    }
    if (method !== 'GET') return notFound();
    if (path === '/rate_limit') {
      return { endpoint: 'rate-limit', resource: 'core', handle: () => ({ status: 200, body: rateLimitJson(this.#buckets), free: true }) };
    }

    let repo: FakeRepository | undefined;
    let rest: string[];
    const byName = /^\/repos\/([^/]+)\/([^/]+)(\/.*)?$/.exec(path);
    const byId = /^\/repositories\/(\d+)(\/.*)?$/.exec(path);
    if (byName) {
      const fullName = `${decodeURIComponent(byName[1]!)}/${decodeURIComponent(byName[2]!)}`;
      repo = this.#find(fullName, { followRenames: false });
      if (repo === undefined) {
        const renamed = this.#find(fullName, { followRenames: true });
        if (renamed !== undefined) {
          // GitHub: a renamed repository answers its old name with a 301 to /repositories/{id}.
          const location = `${this.url}/repositories/${renamed.id}${byName[3] ?? ''}${url.search}`;
          return {
            endpoint: 'redirect',
            resource: 'core',
            repository: renamed,
            handle: () => ({ status: 301, headers: { location }, body: { message: 'Moved Permanently', url: location, documentation_url: 'https://docs.github.com/v3/#http-redirects' } }),
          };
        }
        return notFound('repository');
      }
      rest = (byName[3] ?? '').split('/').slice(1).map(decodeURIComponent);
    } else if (byId) {
      repo = this.#repositories.find((candidate) => candidate.id === Number(byId[1]));
      if (repo === undefined) return notFound('repository');
      rest = (byId[2] ?? '').split('/').slice(1).map(decodeURIComponent);
    } else {
      return notFound();
    }
    const found = repo;
    const api = this.url;
    const route = (endpoint: string, handle: () => Reply): Route => ({ endpoint, resource: 'core', repository: found, handle });
    const [first, second, ...others] = rest;

    if (rest.length === 0) return route('repository', () => ({ status: 200, body: repositoryJson(api, found) }));
    if (first === 'tags' && rest.length === 1) {
      return route('tags', () => {
        const names = [...found.tagNames()].reverse();
        return this.#listPage(url, found, names, (name) => tagItemJson(api, found, name, found.expectedTag(name)?.gitSha ?? found.tagRef(name)!.sha));
      });
    }
    if (first === 'releases') {
      if (rest.length === 1) {
        // GitHub lists only the first 1,000 releases: a page past them answers 422.
        return route('releases', () => this.#listPage(url, found, found.releases(), (release) => releaseJson(api, found, release), { maxResults: 1_000 }));
      }
      if (second === 'tags' && others.length > 0) {
        const tag = others.join('/');
        return route('release-by-tag', () => {
          // "Get a published release with the specified tag name": drafts are not found here.
          const release = found.releasesOfTag(tag).find((candidate) => !candidate.draft);
          return release === undefined ? notFound().handle() : { status: 200, body: releaseJson(api, found, release) };
        });
      }
      if (second !== undefined && /^\d+$/.test(second) && others.length === 0) {
        return route('release', () => {
          const release = found.release(Number(second));
          return release === undefined ? notFound().handle() : { status: 200, body: releaseJson(api, found, release) };
        });
      }
    }
    if (first === 'git' && second === 'matching-refs' && others.length > 0) {
      const pattern = others.join('/');
      return route('matching-refs', () => this.#matchingRefs(found, pattern, url));
    }
    if (first === 'git' && second === 'ref' && others[0] === 'tags' && others.length > 1) {
      const name = others.slice(1).join('/');
      return route('ref', () => {
        const ref = found.tagRef(name);
        return ref === undefined ? notFound().handle() : { status: 200, body: refJson(api, found, ref) };
      });
    }
    if (first === 'git' && (second === 'tags' || second === 'commits') && others.length === 1) {
      const kind = second === 'tags' ? 'tag' : 'commit';
      return route(second === 'tags' ? 'git-tag' : 'git-commit', () => {
        const object = found.object(others[0]!);
        if (object?.kind === 'tag' && kind === 'tag') return { status: 200, body: gitTagJson(api, found, object) };
        if (object?.kind === 'commit' && kind === 'commit') return { status: 200, body: gitCommitJson(api, found, object) };
        return notFound().handle();
      });
    }
    return notFound('not-found', found);
  }

  /** One page of a REST list, with GitHub's Link header (links use /repositories/{id}). */
  #listPage<T>(url: URL, repo: FakeRepository, items: readonly T[], toJson: (item: T) => unknown, options: { maxResults?: number } = {}): Reply {
    const requested = Number(url.searchParams.get('per_page'));
    const perPage = Number.isInteger(requested) && requested > 0 ? Math.min(requested, 100) : 30;
    const requestedPage = Number(url.searchParams.get('page'));
    const page = Number.isInteger(requestedPage) && requestedPage > 0 ? requestedPage : 1;
    if (options.maxResults !== undefined && (page - 1) * perPage >= options.maxResults) {
      // GitHub's answer, word for word (https://docs.github.com/rest/releases/releases#list-releases).
      return {
        status: 422,
        body: { message: `Only the first ${options.maxResults} results are available.`, documentation_url: 'https://docs.github.com/rest/releases/releases#list-releases' },
      };
    }
    const lastPage = Math.max(1, Math.ceil(items.length / perPage));
    const body = items.slice((page - 1) * perPage, page * perPage).map(toJson);
    const link = (target: number) => {
      const next = new URL(`${this.url}/repositories/${repo.id}${url.pathname.replace(/^\/(repos\/[^/]+\/[^/]+|repositories\/\d+)/, '')}`);
      for (const [key, value] of url.searchParams) if (key !== 'page') next.searchParams.set(key, value);
      next.searchParams.set('page', String(target));
      return `<${next.toString()}>`;
    };
    const links: string[] = [];
    if (page > 1) links.push(`${link(Math.min(page - 1, lastPage))}; rel="prev"`);
    if (page < lastPage) links.push(`${link(page + 1)}; rel="next"`, `${link(lastPage)}; rel="last"`);
    if (page > 1) links.push(`${link(1)}; rel="first"`);
    return { status: 200, body, ...(links.length > 0 ? { headers: { link: links.join(', ') } } : {}) };
  }

  /** Every matching ref in one answer, written in pieces: 100,000 tags are about 33 MB. */
  #matchingRefs(repo: FakeRepository, pattern: string, url: URL): Reply {
    if (repo.noCommits) return { status: 409, body: { message: 'Git Repository is empty.', documentation_url: 'https://docs.github.com/rest/git/refs#list-matching-references' } };
    if (!pattern.startsWith('tags') || (pattern.length > 4 && pattern[4] !== '/')) {
      return { status: 200, body: [] };
    }
    const prefix = pattern.slice(5);
    const names = prefix === '' ? repo.tagNames() : repo.tagNames().filter((name) => name.startsWith(prefix));
    const api = this.url;
    const etag = `W/"${createHash('sha256').update(`${repo.id}:${repo.fullName}:${repo.tagsVersion}:${url.pathname}`).digest('hex').slice(0, 40)}"`;
    return {
      status: 200,
      etag,
      stream: function* () {
        yield '[';
        for (let start = 0; start < names.length; start += 500) {
          const slice = names.slice(start, start + 500).map((name) => JSON.stringify(refJson(api, repo, repo.tagRef(name)!)));
          yield `${start === 0 ? '' : ','}${slice.join(',')}`;
        }
        yield ']';
      },
    };
  }

  #graphql(body: unknown): Reply {
    if (body === undefined) return { status: 400, body: { message: 'Problems parsing JSON', documentation_url: 'https://docs.github.com/graphql' } };
    const prepared = prepareQuery(body);
    if (!prepared.ok) return { status: 200, body: { errors: prepared.errors } };
    const bucket = this.#buckets.graphql;
    if (bucket.limit - bucket.used < prepared.cost) {
      return { status: 200, free: true, body: { errors: [{ type: 'RATE_LIMITED', code: 'graphql_rate_limit', message: 'API rate limit already exceeded for user ID 1.' }] } };
    }
    const after = bucket.used + prepared.cost;
    const result = runQuery(prepared, {
      findRepository: (owner, name) => this.#find(`${owner}/${name}`, { followRenames: true }),
      rateLimit: {
        cost: prepared.cost,
        limit: bucket.limit,
        remaining: Math.max(0, bucket.limit - after),
        used: after,
        resetAt: isoUtc(new Date(bucket.reset * 1000)),
        nodeCount: prepared.nodeCount,
      },
    });
    return { status: 200, body: result, headers: { 'x-fake-cost': String(prepared.cost) } };
  }

  #takeFault(record: RequestRecord): FaultSpec | undefined {
    for (const entry of this.#faults) {
      if (!matches(entry.spec, record)) continue;
      const limit = entry.spec.times ?? (entry.spec.every === undefined ? 1 : Number.POSITIVE_INFINITY);
      if (entry.fired >= limit) continue;
      entry.seen += 1;
      if (entry.spec.every !== undefined && entry.seen % entry.spec.every !== 0) continue;
      entry.fired += 1;
      return entry.spec;
    }
    return undefined;
  }

  #bucket(resource: Resource): Bucket {
    const bucket = this.#buckets[resource];
    const now = Math.floor(Date.now() / 1000);
    if (now >= bucket.reset) {
      bucket.used = 0;
      bucket.reset = now + 3600;
    }
    return bucket;
  }

  #find(fullName: string, options: { followRenames: boolean }): FakeRepository | undefined {
    const wanted = fullName.toLowerCase();
    return (
      this.#repositories.find((repo) => repo.fullName.toLowerCase() === wanted) ??
      (options.followRenames ? this.#repositories.find((repo) => repo.previousNames.some((name) => name.toLowerCase() === wanted)) : undefined)
    );
  }

  #assertFree(owner: string, name: string): void {
    if (this.#find(`${owner}/${name}`, { followRenames: false }) !== undefined) throw new Error(`fake GitHub: ${owner}/${name} exists already`);
  }
}

/** Starts a fake GitHub on an ephemeral loopback port. */
export async function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  return new FakeGitHub(options).listen();
}

function matches(matcher: RequestMatcher, record: RequestRecord): boolean {
  if (matcher.endpoint !== undefined && !(typeof matcher.endpoint === 'string' ? [matcher.endpoint] : matcher.endpoint).includes(record.endpoint)) return false;
  if (matcher.method !== undefined && matcher.method.toUpperCase() !== record.method) return false;
  if (matcher.resource !== undefined && matcher.resource !== record.resource) return false;
  if (matcher.operation !== undefined && matcher.operation !== record.operation) return false;
  if (matcher.path !== undefined && !(typeof matcher.path === 'string' ? record.path === matcher.path : matcher.path.test(record.path))) return false;
  return true;
}

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x". */
function etagMatches(ifNoneMatch: string | null, etag: string): boolean {
  if (ifNoneMatch === null) return false;
  const opaque = (value: string) => value.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((candidate) => candidate.trim() === '*' || opaque(candidate) === opaque(etag));
}

/** Damages a reply as a fault asks (the status and headers stay those of a success). */
function corrupt(reply: Reply, mode: 'invalid-json' | 'wrong-shape' | 'bad-item'): void {
  if (reply.stream !== undefined) {
    const original = reply.stream;
    reply.stream = function* () {
      if (mode === 'wrong-shape') {
        yield '{"message":"not a list"}';
        return;
      }
      let index = 0;
      for (const chunk of original()) {
        if (mode === 'invalid-json' && index === 1) {
          yield chunk.slice(0, Math.floor(chunk.length / 2));
          return;
        }
        yield mode === 'bad-item' && index === 1 ? chunk.replace(/^\{"ref":"[^"]*"/, '{"ref":42') : chunk;
        index += 1;
      }
    };
    reply.etag = `W/"corrupt-${Date.now()}"`;
    return;
  }
  if (mode === 'invalid-json') {
    const text = JSON.stringify(reply.body);
    reply.body = `\u0000raw:${text.slice(0, Math.floor(text.length / 2))}`;
    return;
  }
  if (mode === 'wrong-shape') {
    reply.body = Array.isArray(reply.body) ? { message: 'not a list' } : (reply.body as { data?: unknown }).data !== undefined ? { data: { unexpected: true } } : [];
    return;
  }
  const list = firstNonEmptyArray(reply.body);
  if (list !== undefined) list[0] = { name: 42, id: 'not-a-number', unexpected: true };
}

function firstNonEmptyArray(value: unknown): unknown[] | undefined {
  if (Array.isArray(value)) {
    if (value.length > 0 && typeof value[0] === 'object') return value;
    for (const item of value) {
      const found = firstNonEmptyArray(item);
      if (found) return found;
    }
    return undefined;
  }
  if (typeof value === 'object' && value !== null) {
    for (const item of Object.values(value)) {
      const found = firstNonEmptyArray(item);
      if (found) return found;
    }
  }
  return undefined;
}

async function writeStream(response: ServerResponse, chunks: Iterable<string>): Promise<void> {
  for (const chunk of chunks) {
    if (response.destroyed) return;
    if (!response.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          response.off('drain', done).off('close', done);
          resolve();
        };
        response.on('drain', done).on('close', done);
      });
    }
  }
  response.end();
}

function header(request: IncomingMessage, name: string): string | null {
  const value = request.headers[name];
  return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

export type { GraphqlErrorBody };
