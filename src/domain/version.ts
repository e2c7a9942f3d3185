import semver from 'semver';

// How a git tag becomes a version. The product's tag pattern extracts the version text (named group
// `version`); the `semver` package decides whether it is valid SemVer 2.0 and supplies precedence.
// The parts are stored in columns so that PostgreSQL can order and page by precedence itself; the
// prerelease part is stored as `prerelease_key`, a byte string whose bytewise order is SemVer
// precedence (see encodePrereleaseKey).

/** Optional `v`, then SemVer 2.0 (prerelease and build metadata allowed). */
export const DEFAULT_TAG_PATTERN = String.raw`^v?(?<version>\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)$`;

export type ParsedVersion = {
  /** SemVer without build metadata, e.g. `1.2.3-rc.1`: tags that share it are the same release. */
  version: string;
  major: number;
  minor: number;
  patch: number;
  prerelease: string[];
  build: string[];
  prereleaseKey: Buffer;
};

export function compileTagPattern(pattern: string): { regex: RegExp; problem?: undefined } | { regex?: undefined; problem: string } {
  let regex: RegExp;
  try {
    regex = new RegExp(pattern);
  } catch (error) {
    return { problem: `is not a valid regular expression (${(error as Error).message})` };
  }
  if (!/\(\?<version>/.test(pattern)) {
    return { problem: 'must contain a named group (?<version>...) that captures the version' };
  }
  return { regex };
}

const patternCache = new Map<string, RegExp>();

function regexFor(pattern: string): RegExp {
  let regex = patternCache.get(pattern);
  if (regex === undefined) {
    const compiled = compileTagPattern(pattern);
    if (compiled.regex === undefined) throw new Error(`invalid tag pattern ${pattern}: ${compiled.problem}`);
    regex = compiled.regex;
    patternCache.set(pattern, regex);
  }
  return regex;
}

/** The version a tag carries under `pattern`, or null when the tag is not a release of the product. */
export function parseTag(tag: string, pattern: string): ParsedVersion | null {
  const text = regexFor(pattern).exec(tag)?.groups?.version;
  if (text === undefined) return null;
  return parseVersion(text);
}

/** Parses SemVer text (with or without a leading `v`); null when it is not valid SemVer 2.0. */
export function parseVersion(text: string): ParsedVersion | null {
  const parsed = semver.parse(text);
  if (parsed === null) return null;
  // Versions must fit PostgreSQL's bigint; semver already rejects parts above MAX_SAFE_INTEGER.
  const prerelease = parsed.prerelease.map(String);
  return {
    version: parsed.version,
    major: parsed.major,
    minor: parsed.minor,
    patch: parsed.patch,
    prerelease,
    build: [...parsed.build],
    prereleaseKey: encodePrereleaseKey(prerelease),
  };
}

const NUMERIC = 0x01;
const ALPHANUMERIC = 0x02;
const NO_PRERELEASE = 0xff;

/**
 * Encodes prerelease identifiers so that comparing the bytes (PostgreSQL compares bytea with memcmp,
 * shorter prefix first) gives SemVer 2.0 precedence (spec item 11):
 * - a version without prerelease ranks above any prerelease of it: the lone byte 0xff beats the
 *   0x01/0x02 that starts every encoded identifier;
 * - numeric identifiers compare numerically: 0x01, the digit count, the digits (no leading zeros
 *   in SemVer, so more digits means larger);
 * - numeric ranks below alphanumeric: 0x01 < 0x02;
 * - alphanumeric identifiers compare in ASCII order: 0x02, the characters, then 0x00 so that a
 *   prefix ranks below its extensions ("alpha" < "alpha1");
 * - a longer list of equal leading identifiers ranks higher: the shorter key is a prefix.
 */
export function encodePrereleaseKey(prerelease: readonly string[]): Buffer {
  if (prerelease.length === 0) return Buffer.from([NO_PRERELEASE]);
  const parts: Buffer[] = [];
  for (const identifier of prerelease) {
    if (/^\d+$/.test(identifier)) {
      const digits = identifier.replace(/^0+(?=\d)/, '');
      parts.push(Buffer.from([NUMERIC, digits.length]), Buffer.from(digits, 'ascii'));
    } else {
      parts.push(Buffer.from([ALPHANUMERIC]), Buffer.from(identifier, 'ascii'), Buffer.from([0x00]));
    }
  }
  return Buffer.concat(parts);
}
