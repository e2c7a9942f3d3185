import type { Database } from '../../src/db/pool.ts';
import { syncProductDefinitions, type Product } from '../../src/db/products.ts';
import { setChangeSource, upsertGithubReleases, upsertTags, type GithubReleaseFact, type TagFact } from '../../src/db/releases.ts';
import { DEFAULT_TAG_PATTERN } from '../../src/domain/version.ts';
import type { ProductDefinition } from '../../src/products.ts';
import type { FixtureTag } from './fixtures.ts';

// Test data goes in through the worker's own writers (src/db/releases.ts), so the rows the read API
// sees are exactly what a sync would leave: canonical flags, derived fields, the change log.

export function productDefinition(name: string, overrides: Partial<ProductDefinition> = {}): ProductDefinition {
  return { name, repository: `acme/${name}`, tagPattern: DEFAULT_TAG_PATTERN, plainTagsPublic: false, public: true, ...overrides };
}

export async function defineProducts(db: Database, definitions: readonly ProductDefinition[]): Promise<Map<string, Product>> {
  const products = await syncProductDefinitions(db, definitions);
  return new Map(products.map((product) => [product.name, product]));
}

/** A real tag as git describes it, as the sync hands it to upsertTags. */
export function tagFactFromFixture(tag: FixtureTag): TagFact {
  return {
    name: tag.name,
    refSha: tag.object_sha,
    gitSha: tag.peeled_type === 'commit' ? tag.peeled_sha : null,
    taggedAt: tag.date === null ? null : new Date(tag.date),
  };
}

const sha = (n: number, salt = 0) => ((n * 2654435761 + salt) >>> 0).toString(16).padStart(8, '0').repeat(5);

/**
 * `count` distinct versions, from 0.0.0 upwards over several majors and minors, every fourth one
 * with prereleases before it (`-alpha.1`, `-rc.1`, `-rc.2`, `-rc.10` to exercise numeric order),
 * each tagged `v<version>`; every seventh version also carries a second tag `<version>`.
 */
export function syntheticTags(count: number, start = new Date('2020-01-01T00:00:00Z')): TagFact[] {
  const tags: TagFact[] = [];
  const prereleases = ['alpha.1', 'rc.1', 'rc.2', 'rc.10'];
  let versions = 0;
  for (let line = 0; versions < count; line += 1) {
    const major = Math.floor(line / 20);
    const minor = line % 20;
    for (let patch = 0; patch < 12 && versions < count; patch += 1) {
      const names: string[] = [];
      if (patch % 4 === 0) {
        for (const prerelease of prereleases) {
          if (versions >= count) break;
          names.push(`${major}.${minor}.${patch}-${prerelease}`);
          versions += 1;
        }
      }
      if (versions < count) {
        names.push(`${major}.${minor}.${patch}`);
        versions += 1;
      }
      for (const version of names) {
        const n = tags.length;
        const taggedAt = new Date(start.getTime() + n * 3_600_000);
        tags.push({ name: `v${version}`, refSha: sha(n, 1), gitSha: sha(n, 2), taggedAt });
        if (n % 7 === 0) tags.push({ name: version, refSha: sha(n, 3), gitSha: sha(n, 2), taggedAt });
      }
    }
  }
  return tags;
}

/** A published (or draft) GitHub release of `tagName`. */
export function githubRelease(id: number, tagName: string, overrides: Partial<GithubReleaseFact> = {}): GithubReleaseFact {
  return {
    id,
    tagName,
    name: `Release ${tagName}`,
    draft: false,
    prerelease: false,
    createdAt: new Date('2024-01-01T00:00:00Z'),
    publishedAt: new Date('2024-01-02T00:00:00Z'),
    htmlUrl: `https://github.com/acme/app/releases/tag/${encodeURIComponent(tagName)}`,
    ...overrides,
  };
}

/** Writes `tags` (and `releases`) for `product` in batches, each batch one transaction. */
export async function seedReleases(
  db: Database,
  product: Product,
  tags: readonly TagFact[],
  releases: readonly GithubReleaseFact[] = [],
  batchSize = 1_000,
): Promise<void> {
  for (let offset = 0; offset < tags.length; offset += batchSize) {
    await db.transaction(async (transaction) => {
      await setChangeSource(transaction, 'test');
      await upsertTags(transaction, product, tags.slice(offset, offset + batchSize));
    });
  }
  for (let offset = 0; offset < releases.length; offset += batchSize) {
    await db.transaction(async (transaction) => {
      await setChangeSource(transaction, 'test');
      await upsertGithubReleases(transaction, product.id, releases.slice(offset, offset + batchSize));
    });
  }
}
