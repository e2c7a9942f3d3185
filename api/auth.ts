import { createHash, timingSafeEqual } from 'node:crypto';
import type { Context } from 'koa';
import { UnauthorizedError } from '../src/errors.ts';

// Bearer tokens from API_TOKENS. A request without Authorization is anonymous; one with a token
// that is not ours is refused (401) rather than silently served as anonymous, so a client with a
// mistyped token finds out. Tokens are compared as SHA-256 digests with timingSafeEqual, against
// every configured token without stopping early, so timing tells nothing about how much matched.

export type Reader = 'anonymous' | 'token';

export type TokenChecker = (ctx: Context) => Reader;

const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();

export function createTokenChecker(tokens: readonly string[]): TokenChecker {
  const digests = tokens.map(digest);
  return (ctx) => {
    const header = ctx.get('Authorization');
    if (header === '') return 'anonymous';
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (match === null) throw new UnauthorizedError('the Authorization header must be "Bearer <token>"');
    const presented = digest(match[1]!);
    let valid = false;
    for (const candidate of digests) valid = timingSafeEqual(presented, candidate) || valid;
    if (!valid) throw new UnauthorizedError('the bearer token is not valid');
    return 'token';
  };
}

/** For admin routes: a valid token is required. */
export function requireToken(ctx: Context, check: TokenChecker): void {
  if (check(ctx) !== 'token') throw new UnauthorizedError('this endpoint requires an API token (Authorization: Bearer <token>)');
}
