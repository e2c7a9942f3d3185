import semver from 'semver';
import { sql, type QuerySqlToken } from 'slonik';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { allReleasesQuery, productReleasesQuery, type ReleaseView } from '../src/db/release-reads.ts';
import { encodePrereleaseKey } from '../src/domain/version.ts';
import { AUTH, readPage, startReadApi, type ReadApiHarness } from './support/read-api.ts';
import { defineProducts, githubRelease, productDefinition, seedReleases, syntheticTags } from './support/seed.ts';

// Paging through a 2,500-release product: every version exactly once, in order, whatever the page
// size; the next page is announced in a Link header; a deep page is an index range scan, as cheap
// as the first (checked on the query plans, not on timings).

const paging = suite<{ api: ReadApiHarness; expected: string[]; publicExpected: string[]; productId: number }>('read API pagination', {} as never);

const RELEASES = 2_500;

paging.before(async (context) => {
  context.api = await startReadApi({ label: 'pagination' });
  const products = await defineProducts(context.api.database.db, [
    productDefinition('big'),
    productDefinition('alpha', { plainTagsPublic: true }),
    productDefinition('zulu', { plainTagsPublic: true }),
    productDefinition('secret', { plainTagsPublic: true, public: false }),
  ]);
  const tags = syntheticTags(RELEASES);
  // Two thirds of the tags get a published GitHub release (public); the rest stay internal.
  const published = tags.filter((_, index) => index % 3 !== 0);
  await seedReleases(
    context.api.database.db,
    products.get('big')!,
    tags,
    published.map((tag, index) => githubRelease(index + 1, tag.name)),
  );
  for (const name of ['alpha', 'zulu', 'secret']) await seedReleases(context.api.database.db, products.get(name)!, syntheticTags(150));
  await context.api.database.db.query(sql.unsafe`ANALYZE releases`);
  context.productId = products.get('big')!.id;
  const versions = [...new Set(tags.map((tag) => tag.name.replace(/^v/, '')))];
  context.expected = versions.sort(semver.rcompare).map((version) => `v${version}`);
  const publicVersions = new Set(published.map((tag) => tag.name.replace(/^v/, '')));
  context.publicExpected = context.expected.filter((version) => publicVersions.has(version.slice(1)));
});

paging.after(async (context) => {
  await context.api.stop();
});

async function pageThrough(api: ReadApiHarness, path: string, token: boolean): Promise<{ versions: string[]; pages: number; rows: ReleaseView[] }> {
  const rows: ReleaseView[] = [];
  let pages = 0;
  let next: string | null = `${api.server.url}${path}`;
  while (next !== null) {
    const response = await fetch(next, { headers: token ? AUTH : {} });
    assert.is(response.status, 200, `GET ${next}`);
    const page: { items: ReleaseView[]; next: string | null } = await readPage<ReleaseView>(response);
    rows.push(...page.items);
    pages += 1;
    next = page.next;
    assert.ok(pages <= 1_000, 'paging ends');
  }
  return { versions: rows.map((row) => `${row.name}:${row.version}`), pages, rows };
}

paging('2,500 versions in pages of 100: each exactly once, newest first, 25 pages', async ({ api, expected }) => {
  assert.is(expected.length, RELEASES);
  const { versions, pages } = await pageThrough(api, '/v1/releases/big?limit=100', true);
  assert.is(pages, 25);
  assert.equal(versions, expected.map((version) => `big:${version}`));
});

paging('odd page sizes and the default page give the same sequence', async ({ api, expected }) => {
  for (const limit of [1_000, 97, 7]) {
    const { versions, pages } = await pageThrough(api, `/v1/releases/big?limit=${limit}`, true);
    assert.is(pages, Math.ceil(RELEASES / limit), `limit ${limit}`);
    assert.equal(versions, expected.map((version) => `big:${version}`), `limit ${limit}`);
  }
  const first = await api.get('/v1/releases/big', { token: true });
  const { items, next } = await readPage<ReleaseView>(first);
  assert.is(items.length, 100, 'the default page size is 100');
  assert.ok(next !== null && next.includes('cursor='));
});

paging('anonymous paging sees public versions only, still gap-free', async ({ api, publicExpected }) => {
  const { versions } = await pageThrough(api, '/v1/releases/big?limit=250', false);
  assert.equal(versions, publicExpected.map((version) => `big:${version}`));
});

paging('filters combine with paging (development=false, range)', async ({ api, expected }) => {
  const finals = expected.filter((version) => semver.prerelease(version) === null);
  const { versions } = await pageThrough(api, '/v1/releases/big?limit=150&development=false', true);
  assert.equal(versions, finals.map((version) => `big:${version}`));
  const ranged = expected.filter((version) => semver.satisfies(version, '>=3.1.0 <5.2.7'));
  const inRange = await pageThrough(api, `/v1/releases/big?limit=33&range=${encodeURIComponent('>=3.1.0 <5.2.7')}`, true);
  assert.ok(ranged.length > 100);
  assert.equal(inRange.versions, ranged.map((version) => `big:${version}`));
});

paging('the list of every product pages across products in name order, without the non-public one', async ({ api, expected }) => {
  const synthetic = syntheticTags(150).map((tag) => tag.name.replace(/^v/, ''));
  const small = [...new Set(synthetic)].sort(semver.rcompare).map((version) => `v${version}`);
  const anonymous = await pageThrough(api, '/v1/releases?limit=64', false);
  const big = (await pageThrough(api, '/v1/releases/big?limit=1000', false)).versions;
  assert.equal(anonymous.versions, [...small.map((v) => `alpha:${v}`), ...big, ...small.map((v) => `zulu:${v}`)]);
  const withToken = await pageThrough(api, '/v1/releases?limit=333', true);
  assert.equal(withToken.versions, [
    ...small.map((v) => `alpha:${v}`),
    ...expected.map((v) => `big:${v}`),
    ...small.map((v) => `secret:${v}`),
    ...small.map((v) => `zulu:${v}`),
  ]);
});

paging('a cursor that is not ours is a 400 naming the parameter', async ({ api }) => {
  for (const cursor of ['garbage!', Buffer.from('{"v":[1,2]}').toString('base64url'), 'eyJ']) {
    const response = await api.get(`/v1/releases/big?cursor=${encodeURIComponent(cursor)}`);
    assert.is(response.status, 400, cursor);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /query parameter "cursor"/);
  }
  // A product name no product can have (PostgreSQL refuses a NUL in text): refused, not a 500.
  for (const product of ['\u0000', 'Not A Name']) {
    const cursor = Buffer.from(JSON.stringify({ p: product, v: [1, 0, 0, 'ff'] })).toString('base64url');
    const response = await api.get(`/v1/releases?cursor=${cursor}`);
    assert.is(response.status, 400, cursor);
    assert.match(((await response.json()) as { error: { message: string } }).error.message, /query parameter "cursor"/);
  }
  const productCursor = (await readPage<ReleaseView>(await api.get('/v1/releases/big?limit=1'))).next!;
  const cursor = new URL(productCursor).searchParams.get('cursor')!;
  const crossed = await api.get(`/v1/releases?cursor=${cursor}`);
  assert.is(crossed.status, 400, "a product list's cursor does not page the list of every product");
  assert.match(((await crossed.json()) as { error: { message: string } }).error.message, /query parameter "cursor"/);
  const allCursor = new URL((await readPage<ReleaseView>(await api.get('/v1/releases?limit=1'))).next!).searchParams.get('cursor')!;
  const crossedBack = await api.get(`/v1/releases/big?cursor=${allCursor}`);
  assert.is(crossedBack.status, 400, "the list of every product's cursor does not page one product's list");
  assert.match(((await crossedBack.json()) as { error: { message: string } }).error.message, /query parameter "cursor"/);
});

type PlanNode = { 'Node Type': string; 'Index Name'?: string; 'Actual Rows'?: number; 'Rows Removed by Filter'?: number; Plans?: PlanNode[] };

async function explain(api: ReadApiHarness, query: QuerySqlToken): Promise<PlanNode> {
  const result = await api.database.db.query({
    ...query,
    sql: `EXPLAIN (ANALYZE, FORMAT JSON) ${query.sql}`,
    parser: z.any(),
  } as unknown as QuerySqlToken);
  const plan = (result.rows[0] as { 'QUERY PLAN': Array<{ Plan: PlanNode }> })['QUERY PLAN'][0]!.Plan;
  return plan;
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

/**
 * Sort nodes other than the input of an Aggregate. PostgreSQL 16 and later may sort the few sibling
 * tags of one version under its `array_agg(tag ORDER BY tag)`; the page itself must come in index
 * order, never through a Sort.
 */
function pageSorts(plan: PlanNode): PlanNode[] {
  const sorts: PlanNode[] = [];
  const visit = (node: PlanNode, parent: PlanNode | undefined) => {
    if (node['Node Type'] === 'Sort' && parent?.['Node Type'] !== 'Aggregate') sorts.push(node);
    for (const child of node.Plans ?? []) visit(child, node);
  };
  visit(plan, undefined);
  return sorts;
}

/** Rows the scans of the releases precedence index produced or filtered away. */
function precedenceScanWork(plan: PlanNode): number {
  return nodes(plan)
    .filter((node) => node['Index Name'] === 'releases_precedence_idx')
    .reduce((sum, node) => sum + (node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0), 0);
}

paging('a deep page is an index range scan on releases_precedence_idx, no sort, no more work than the first', async ({ api, productId, expected }) => {
  const deepVersion = semver.parse(expected[2_300]!.slice(1))!;
  const deep = {
    major: deepVersion.major,
    minor: deepVersion.minor,
    patch: deepVersion.patch,
    prereleaseKey: encodePrereleaseKey(deepVersion.prerelease.map(String)),
  };
  for (const visibility of ['all', 'public'] as const) {
    const firstPlan = await explain(api, productReleasesQuery(productId, { visibility }, { limit: 101 }));
    const deepPlan = await explain(api, productReleasesQuery(productId, { visibility }, { limit: 101, after: deep }));
    for (const plan of [firstPlan, deepPlan]) {
      const kinds = nodes(plan).map((node) => node['Node Type']);
      assert.is(pageSorts(plan).length, 0, `no sort of the page (${visibility}): ${kinds.join(', ')}`);
      assert.ok(!kinds.includes('Seq Scan') || !nodes(plan).some((node) => node['Node Type'] === 'Seq Scan' && node['Actual Rows']! > 10), 'no scan of the releases table');
      assert.ok(nodes(plan).some((node) => node['Index Name'] === 'releases_precedence_idx'), 'uses the precedence index');
    }
    const firstWork = precedenceScanWork(firstPlan);
    const deepWork = precedenceScanWork(deepPlan);
    // Anonymous pages skip the internal third of the rows: at most ~2x the page, at any depth.
    assert.ok(firstWork <= 101 * 2 + 10, `first page reads ${firstWork} index rows`);
    assert.ok(deepWork <= 101 * 2 + 10, `deep page reads ${deepWork} index rows`);
  }
  const acrossProducts = await explain(api, allReleasesQuery({ visibility: 'public' }, { limit: 101, after: { ...deep, product: 'big' } }));
  assert.ok(precedenceScanWork(acrossProducts) <= 101 * 4 + 10, `a deep page of every product's list reads ${precedenceScanWork(acrossProducts)} index rows`);
});

paging.run();
