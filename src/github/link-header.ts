import { GitHubMalformedResponseError } from '../errors.ts';

// GitHub paginates REST lists with a Link header (RFC 8288):
//   Link: <https://api.github.com/repositories/1/releases?per_page=100&page=2>; rel="next", <…&page=5>; rel="last"
// https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api

/**
 * The URL of the next page, or null on the last page. A next link to another origin than
 * `baseUrl` is refused: following it would send our token elsewhere.
 */
export function nextPageUrl(link: string | undefined, baseUrl: string, endpoint: string): string | null {
  if (link === undefined || link === '') return null;
  for (const part of link.split(',')) {
    const match = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (match === null) continue;
    const relations = /\brel="?([^";]+)"?/.exec(match[2]!)?.[1]?.split(/\s+/) ?? [];
    if (!relations.includes('next')) continue;
    let next: URL;
    try {
      next = new URL(match[1]!, baseUrl);
    } catch {
      throw new GitHubMalformedResponseError(endpoint, [{ path: 'headers.link', message: `unparseable next URL ${JSON.stringify(match[1])}` }]);
    }
    if (next.origin !== new URL(baseUrl).origin) {
      throw new GitHubMalformedResponseError(endpoint, [{ path: 'headers.link', message: `next page on another origin (${next.origin})` }]);
    }
    return next.toString();
  }
  return null;
}
