import { createHash, timingSafeEqual } from 'node:crypto';

// Bearer tokens, for the API's tokens and the metrics token alike. Tokens are compared as SHA-256
// digests with timingSafeEqual, so neither how much of a token matched nor its length shows in
// the timing.

/**
 * RFC 6750's token68, the only characters a bearer token can have in an Authorization header. The
 * configuration refuses other tokens (src/config.ts): they could never authenticate.
 */
const TOKEN68_PATTERN = String.raw`[A-Za-z0-9\-._~+/]+=*`;
export const TOKEN68 = new RegExp(`^${TOKEN68_PATTERN}$`);
const BEARER_HEADER = new RegExp(String.raw`^Bearer[ \t]+(${TOKEN68_PATTERN})[ \t]*$`, 'i');

/** The token of `Authorization: Bearer <token>` (scheme in any case), or null for anything else. */
export function bearerToken(header: string | undefined): string | null {
  // Spaces and tabs are the only whitespace HTTP allows around the token.
  const match = BEARER_HEADER.exec(header ?? '');
  return match === null ? null : match[1]!;
}

export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Whether `presented` is one of the tokens, checked against every one without stopping early. */
export function matchesAnyToken(presented: string, digests: readonly Buffer[]): boolean {
  const digest = tokenDigest(presented);
  let valid = false;
  for (const candidate of digests) valid = timingSafeEqual(digest, candidate) || valid;
  return valid;
}
