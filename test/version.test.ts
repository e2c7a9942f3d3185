import semver from 'semver';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_TAG_PATTERN, encodePrereleaseKey, parseTag, parseVersion } from '../src/domain/version.ts';
import { readTagList, TAG_LISTS } from './support/fixtures.ts';

/** Precedence by our stored parts, as PostgreSQL orders them (bytea compares like Buffer.compare). */
function compareStored(a: string, b: string): number {
  const x = parseVersion(a)!;
  const y = parseVersion(b)!;
  return Math.sign(x.major - y.major) || Math.sign(x.minor - y.minor) || Math.sign(x.patch - y.patch) || Buffer.compare(x.prereleaseKey, y.prereleaseKey);
}

test('the SemVer spec example orders correctly', () => {
  const spec = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
  const shuffled = [...spec].reverse();
  assert.equal(shuffled.sort(compareStored), spec);
});

test('stored parts order every real tag list exactly like semver.compare (prereleases included)', () => {
  for (const list of TAG_LISTS) {
    const versions = [...new Set(readTagList(list).map((tag) => parseTag(tag.name, DEFAULT_TAG_PATTERN)?.version).filter((v) => v !== undefined))];
    assert.ok(versions.length > 50, `${list} has versions`);
    const ours = [...versions].sort(compareStored);
    const theirs = [...versions].sort(semver.compare);
    assert.equal(ours, theirs, list);
  }
});

test('numeric identifiers compare numerically and below alphanumeric ones', () => {
  assert.ok(Buffer.compare(encodePrereleaseKey(['rc', '2']), encodePrereleaseKey(['rc', '10'])) < 0);
  assert.ok(Buffer.compare(encodePrereleaseKey(['999']), encodePrereleaseKey(['a'])) < 0);
  assert.ok(Buffer.compare(encodePrereleaseKey(['alpha']), encodePrereleaseKey(['alpha1'])) < 0);
  assert.ok(Buffer.compare(encodePrereleaseKey(['alpha']), encodePrereleaseKey(['alpha', '1'])) < 0);
  assert.ok(Buffer.compare(encodePrereleaseKey(['zzz']), encodePrereleaseKey([])) < 0, 'a release outranks its prereleases');
});

test('the default pattern: optional v, strict SemVer, build metadata kept apart', () => {
  assert.equal(parseTag('v1.2.3', DEFAULT_TAG_PATTERN)?.version, '1.2.3');
  assert.equal(parseTag('1.2.3', DEFAULT_TAG_PATTERN)?.version, '1.2.3');
  const build = parseTag('v2.43.0+stringlabels', DEFAULT_TAG_PATTERN)!;
  assert.is(build.version, '2.43.0');
  assert.equal(build.build, ['stringlabels']);
  assert.equal(parseTag('v2.8.0-rc.1', DEFAULT_TAG_PATTERN)?.prerelease, ['rc', '1']);
  for (const notRelease of ['all-tests-pass', 'v1.0', '3.14', '0.9.0rc1', 'v0.99.7a', 'v01.2.3', 'kubernetes-1.17.0', 'v1.2.3-', 'junio-gpg-pub']) {
    assert.is(parseTag(notRelease, DEFAULT_TAG_PATTERN), null, notRelease);
  }
});

test('a custom pattern extracts the version from any tag shape', () => {
  const pattern = String.raw`^app/v(?<version>\d+\.\d+\.\d+)$`;
  assert.is(parseTag('app/v5.3.1', pattern)?.version, '5.3.1');
  assert.is(parseTag('cli/v5.3.1', pattern), null);
});

test.run();
