import semver from 'semver';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ReleaseView } from '../src/db/release-reads.ts';
import { DEFAULT_TAG_PATTERN, parseTag } from '../src/domain/version.ts';
import { readTagList, TAG_LISTS, type TagList } from './support/fixtures.ts';
import { AUTH, readPage, startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { defineProducts, productDefinition, seedReleases, tagFactFromFixture } from './support/seed.ts';

// Ordering and ranges are computed in SQL on the stored SemVer parts. On the real tag lists of five
// repositories (prereleases, build metadata, two spellings of one version…), the API must order
// exactly as semver.rcompare and select exactly what semver.satisfies accepts.

const ordering = suite<{ api: ReadApiHarness }>('read API ordering and ranges', {} as never);

const productName = (list: TagList) => list.replace(/__/g, '-').replace(/_/g, '-').toLowerCase();

/** The distinct versions a tag list carries under the default pattern. */
function versionsOf(list: TagList): string[] {
  const versions = new Set<string>();
  for (const tag of readTagList(list)) {
    const parsed = parseTag(tag.name, DEFAULT_TAG_PATTERN);
    if (parsed !== null) versions.add(parsed.version);
  }
  return [...versions];
}

async function fetchAll(api: ReadApiHarness, path: string): Promise<ReleaseView[]> {
  const all: ReleaseView[] = [];
  let next: string | null = `${api.server.url}${path}`;
  while (next !== null) {
    const response = await fetch(next, { headers: AUTH });
    assert.is(response.status, 200, `GET ${next}`);
    const page: { items: ReleaseView[]; next: string | null } = await readPage<ReleaseView>(response);
    all.push(...page.items);
    next = page.next;
  }
  return all;
}

ordering.before(async (context) => {
  context.api = await startReadApi({ label: 'ordering' });
  const products = await defineProducts(
    context.api.database.db,
    TAG_LISTS.map((list) => productDefinition(productName(list), { plainTagsPublic: true })),
  );
  for (const list of TAG_LISTS) {
    await seedReleases(context.api.database.db, products.get(productName(list))!, readTagList(list).map(tagFactFromFixture));
  }
});

ordering.after(async (context) => {
  await context.api.stop();
});

for (const list of TAG_LISTS) {
  ordering(`${list}: every version, newest first, exactly as semver.rcompare orders them`, async ({ api }) => {
    const expected = versionsOf(list).sort(semver.rcompare).map((version) => `v${version}`);
    assert.ok(expected.length > 100, 'the list carries many versions');
    const served = await fetchAll(api, `/v1/releases/${productName(list)}?limit=1000`);
    assert.equal(
      served.map((release) => release.version),
      expected,
    );
  });
}

// (Numeric identifiers past 9, rc.10 after rc.2, are in the synthetic list of the pagination test.)
ordering('the lists exercise prerelease precedence: hundreds of prereleases, rc1 and rc.1 styles mixed', () => {
  const prereleases = TAG_LISTS.flatMap(versionsOf).map((version) => semver.prerelease(version) ?? []);
  assert.ok(prereleases.filter((identifiers) => identifiers.length > 0).length > 900);
  assert.ok(prereleases.some((identifiers) => identifiers.length === 1 && /^[a-z]+\d+$/.test(String(identifiers[0]))), 'alphanumeric rc1');
  assert.ok(prereleases.some((identifiers) => identifiers.length === 2 && typeof identifiers[1] === 'number'), 'dotted rc.1');
});

ordering('tags that carry one version are one release: v2.43.0 and v2.43.0+stringlabels', async ({ api }) => {
  const response = await api.get('/v1/releases/prometheus-prometheus/v2.43.0');
  assert.is(response.status, 200);
  const release = (await response.json()) as ReleaseView;
  assert.equal(release.tags, ['v2.43.0', 'v2.43.0+stringlabels']);
  assert.is(release.canonical_name, 'v2.43.0');
  const viaBuild = await api.get(`/v1/releases/prometheus-prometheus/${encodeURIComponent('v2.43.0+stringlabels')}`);
  assert.is(((await viaBuild.json()) as ReleaseView).id, release.id, 'build metadata is not part of the version');
});

const RANGES = [
  '^5.3',
  '>=5.2 <6',
  '5.x',
  '~3.14',
  '*',
  '2.x || >=3.12.0-rc.1 <3.13',
  '>=2.0.0-rc.0 <2.1.0',
  '^3.0.0-beta.1',
  '1.2.3 - 2.3.4',
  '<0.1.0',
  '0.x',
  '>=1.0.0 <1.0.0',
  '=2.35.0',
  '>2.55.0-rc0',
  '~0.36.0-0',
];

for (const list of TAG_LISTS) {
  ordering(`${list}: ranges select exactly what semver.satisfies accepts`, async ({ api }) => {
    const versions = versionsOf(list).sort(semver.rcompare);
    let nonEmpty = 0;
    for (const range of RANGES) {
      const expected = versions.filter((version) => semver.satisfies(version, range)).map((version) => `v${version}`);
      if (expected.length > 0) nonEmpty += 1;
      const served = await fetchAll(api, `/v1/releases/${productName(list)}?limit=1000&range=${encodeURIComponent(range)}`);
      assert.equal(
        served.map((release) => release.version),
        expected,
        `range ${range}`,
      );
    }
    assert.ok(nonEmpty >= 2, 'some ranges select versions of this list');
  });
}

ordering('a range that is not SemVer is a 400 that says so, and so is a repeated parameter', async ({ api }) => {
  const bad = await api.get(`/v1/releases/helm-helm?range=${encodeURIComponent('>=banana')}`);
  assert.is(bad.status, 400);
  const body = (await bad.json()) as { error: { code: string; message: string } };
  assert.is(body.error.code, 'invalid_input');
  assert.match(body.error.message, /range/);
  assert.match(body.error.message, /not a valid SemVer range/);
  const twice = await api.get('/v1/releases/helm-helm?range=1.x&range=2.x');
  assert.is(twice.status, 400);
  assert.match(((await twice.json()) as { error: { message: string } }).error.message, /given only once/);
});

ordering.run();
