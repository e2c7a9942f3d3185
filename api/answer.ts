import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import type { Reader } from './auth.ts';
import type { CacheTag, CachedAnswer, ResponseCache } from './response-cache.ts';

// How read answers leave the API: serialized once, with a strong ETag over the bytes, an
// If-None-Match check (304), caching headers that depend on who asked, and a GitHub-style Link
// header for the next page. Hot answers come from and go to the response cache.

export type Answer = {
  /** A JSON value, or text for text/plain answers. */
  json?: unknown;
  text?: string;
  /** Path and query of the next page, if there is one. */
  nextPath?: string | undefined;
  /** What the answer depends on, for invalidation. */
  tags: readonly CacheTag[];
};

/** Public answers may be kept by shared caches for a minute; token answers only by the client. */
export const PUBLIC_CACHE_CONTROL = 'public, max-age=60';
export const PRIVATE_CACHE_CONTROL = 'private';

export function serialize(answer: Answer): CachedAnswer {
  const isText = answer.text !== undefined;
  const body = Buffer.from(isText ? answer.text! : JSON.stringify(answer.json), 'utf8');
  return {
    body,
    etag: `"${createHash('sha1').update(body).digest('base64url')}"`,
    contentType: isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8',
    nextPath: answer.nextPath,
  };
}

export function send(ctx: Context, reader: Reader, answer: CachedAnswer, options: { cacheControl?: string; cacheState?: 'hit' | 'miss' | 'off' } = {}): void {
  ctx.status = 200;
  ctx.set('ETag', answer.etag);
  ctx.set('Cache-Control', options.cacheControl ?? (reader === 'token' ? PRIVATE_CACHE_CONTROL : PUBLIC_CACHE_CONTROL));
  ctx.set('Vary', 'Authorization');
  // Koa 3's ctx.origin is the Origin request header; the URL base is protocol and host (proxy-aware).
  if (answer.nextPath !== undefined) ctx.set('Link', `<${ctx.protocol}://${ctx.host}${answer.nextPath}>; rel="next"`);
  if (options.cacheState !== undefined) ctx.set('X-Cache', options.cacheState);
  if ((ctx.method === 'GET' || ctx.method === 'HEAD') && noneMatch(ctx.get('If-None-Match'), answer.etag)) {
    ctx.status = 304;
    return;
  }
  ctx.body = answer.body;
  ctx.type = answer.contentType;
}

/**
 * RFC 9110 13.1.2: If-None-Match is `*` or a list of entity tags compared weakly (W/ ignored).
 * Evaluated here rather than with Koa's ctx.fresh, which ignores the header whenever the request
 * also says `Cache-Control: no-cache`, as fetch() does for every request with If-None-Match.
 */
function noneMatch(header: string, etag: string): boolean {
  if (header === '') return false;
  if (header.trim() === '*') return true;
  const opaque = etag.replace(/^W\//, '');
  return header.split(',').some((candidate) => candidate.trim().replace(/^W\//, '') === opaque);
}

/**
 * Answers a read from the cache when it can, else computes, stores and sends it. The key is who
 * asks (anonymous or token), the path and the sorted query, so equal requests share an entry.
 */
export async function answerRead(ctx: Context, reader: Reader, cache: ResponseCache | undefined, compute: () => Promise<Answer>): Promise<void> {
  if (cache === undefined || !cache.enabled) {
    send(ctx, reader, serialize(await compute()), { cacheState: 'off' });
    return;
  }
  const query = new URLSearchParams(ctx.querystring);
  query.sort();
  const key = `${reader} ${ctx.path}?${query.toString()}`;
  const cached = cache.get(key);
  if (cached !== undefined) {
    send(ctx, reader, cached, { cacheState: 'hit' });
    return;
  }
  const generation = cache.generation;
  const answer = await compute();
  const serialized = serialize(answer);
  cache.set(key, serialized, answer.tags, generation);
  send(ctx, reader, serialized, { cacheState: 'miss' });
}

/** Path and query of this request with `changes` applied (for Link headers). */
export function pathWith(ctx: Context, changes: Record<string, string>): string {
  const query = new URLSearchParams(ctx.querystring);
  for (const [name, value] of Object.entries(changes)) query.set(name, value);
  return `${ctx.path}?${query.toString()}`;
}

/**
 * One page of `rows`, fetched with one row more than `limit` so that the extra row tells whether
 * another page follows; `nextPath` names it by the cursor of the page's last row.
 */
export function nextPage<Row>(ctx: Context, rows: readonly Row[], limit: number, cursorOf: (last: Row) => string): { page: Row[]; nextPath: string | undefined } {
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  const nextPath = rows.length > limit && last !== undefined ? pathWith(ctx, { cursor: cursorOf(last) }) : undefined;
  return { page, nextPath };
}
