import semver from 'semver';
import { encodePrereleaseKey } from './version.ts';

// A SemVer range (`^5.3`, `>=5.2 <6`, `5.x`, `1.2 || >=3`) turned into plain comparisons on the stored
// version parts, so that PostgreSQL filters by range itself (src/db/release-reads.ts) and paging stays
// in SQL. The `semver` package parses and desugars the range; the result must select exactly the
// versions `semver.satisfies(version, range)` accepts, including its prerelease rule.

export type RangeOperator = '=' | '<' | '<=' | '>' | '>=';

/** `(major, minor, patch, prerelease_key) <operator> (…)`, SemVer precedence (build ignored). */
export type VersionComparison = {
  operator: RangeOperator;
  major: number;
  minor: number;
  patch: number;
  prereleaseKey: Buffer;
};

/** One `||` alternative: every comparison holds, and a prerelease version passes only on a listed line. */
export type ComparatorSet = {
  comparisons: VersionComparison[];
  /**
   * `semver.satisfies` accepts a prerelease version only when a comparator of the same set names a
   * prerelease on the same major.minor.patch (`>=1.2.3-rc.1` admits `1.2.3-rc.2`, not `1.2.4-rc.1`).
   */
  prereleaseLines: Array<[major: number, minor: number, patch: number]>;
};

export type VersionRange = { text: string; sets: ComparatorSet[] };

/** Parses a range as `semver.satisfies` does (not loose); null when it is not a valid range. */
export function parseVersionRange(text: string): VersionRange | null {
  let range: semver.Range;
  try {
    range = new semver.Range(text);
  } catch {
    return null;
  }
  const sets = range.set.map((comparators) => {
    const comparisons: VersionComparison[] = [];
    const prereleaseLines: ComparatorSet['prereleaseLines'] = [];
    for (const comparator of comparators) {
      // The "any version" comparator (`*`, `x`, empty) carries a symbol instead of a SemVer.
      if (typeof comparator.semver !== 'object') continue;
      const version = comparator.semver;
      const prerelease = version.prerelease.map(String);
      comparisons.push({
        operator: comparator.operator === '' ? '=' : (comparator.operator as RangeOperator),
        major: version.major,
        minor: version.minor,
        patch: version.patch,
        prereleaseKey: encodePrereleaseKey(prerelease),
      });
      if (prerelease.length > 0) prereleaseLines.push([version.major, version.minor, version.patch]);
    }
    return { comparisons, prereleaseLines };
  });
  return { text, sets };
}
