import type { Context } from 'koa';
import { bearerToken, matchesAnyToken, tokenDigest } from '../src/bearer-token.ts';
import { UnauthorizedError } from '../src/errors.ts';

// Bearer tokens from API_TOKENS. A request without Authorization is anonymous; one with a token
// that is not ours is refused (401) rather than silently served as anonymous, so a client with a
// mistyped token finds out. Tokens are compared in constant time (src/bearer-token.ts).

export type Reader = 'anonymous' | 'token';

export type TokenChecker = (ctx: Context) => Reader;

export function createTokenChecker(tokens: readonly string[]): TokenChecker {
  const digests = tokens.map(tokenDigest);
  return (ctx) => {
    const header = ctx.get('Authorization');
    if (header === '') return 'anonymous';
    const presented = bearerToken(header);
    if (presented === null) throw new UnauthorizedError('the Authorization header must be "Bearer <token>"');
    if (!matchesAnyToken(presented, digests)) throw new UnauthorizedError('the bearer token is not valid');
    return 'token';
  };
}

/** For admin routes: a valid token is required. */
export function requireToken(ctx: Context, check: TokenChecker): void {
  if (check(ctx) !== 'token') throw new UnauthorizedError('this endpoint requires an API token (Authorization: Bearer <token>)');
}
