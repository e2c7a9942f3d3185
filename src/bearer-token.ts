import { createHash, timingSafeEqual } from 'node:crypto';

// Bearer tokens, for the API's tokens and the metrics token alike. Tokens are compared as SHA-256
// digests with timingSafeEqual, so neither how much of a token matched nor its length shows in
// the timing.

/**
 * The characters a token may have: visible ASCII, without spaces. RFC 6750's token68 is a subset,
 * but generated secrets often use others (`!`, `$`, `:`), which clients send as they are and which
 * have always authenticated. A space, a control or a non-ASCII character could not arrive intact
 * as part of the token, so the configuration refuses tokens with them (src/config.ts).
 */
const TOKEN_PATTERN = String.raw`[\x21-\x7E]+`;
export const BEARER_TOKEN = new RegExp(`^${TOKEN_PATTERN}$`);
const BEARER_HEADER = new RegExp(String.raw`^Bearer[ \t]+(${TOKEN_PATTERN})[ \t]*$`, 'i');

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
