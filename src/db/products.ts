import { sql, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';
import { parseRepositoryName, type RepositoryRef } from '../github/repository-ref.ts';
import type { ProductDefinition } from '../products.ts';
import type { Queryable } from './pool.ts';
import { holdProductDefinitionsLock, holdReleaseWriteLocks } from './product-locks.ts';
import { refreshReleaseRows } from './releases.ts';
import { resetSyncForRelisting } from './sync-state.ts';

export const productSchema = z.object({
  id: z.number(),
  name: z.string(),
  repository: z.string(),
  githubRepositoryId: z.number().nullable(),
  githubFullName: z.string().nullable(),
  tagPattern: z.string(),
  plainTagsPublic: z.boolean(),
  public: z.boolean(),
  description: z.string().nullable(),
  tracked: z.boolean(),
  createdAt: z.date(),
  updatedAt: z.date(),
});
export type Product = z.infer<typeof productSchema>;

const productColumns = sql.fragment`
  id, name, repository, github_repository_id AS "githubRepositoryId", github_full_name AS "githubFullName",
  tag_pattern AS "tagPattern", plain_tags_public AS "plainTagsPublic", public, description, tracked,
  created_at AS "createdAt", updated_at AS "updatedAt"`;

/**
 * Makes the products table match the products file: upserts every definition and marks products
 * that left the file as untracked (their releases stay). A product whose repository changes in
 * the file forgets the GitHub id it had learnt. Stored releases follow a changed definition:
 * - `plainTagsPublic` changed: every row's visibility is derived again, in this transaction, once
 *   the product's release writes in course have committed;
 * - `repository` or `tagPattern` changed: which tags are releases, and of which versions, must be
 *   listed again, so the product's sync state is reset (a run in course abandoned) and its next sync
 *   is a full one (a starting worker enqueues it: SYNC_ON_START); that full listing tombstones the
 *   rows it no longer finds.
 */
export async function syncProductDefinitions(db: Queryable, definitions: readonly ProductDefinition[]): Promise<Product[]> {
  return db.transaction(async (transaction) => {
    // A sync or webhook transaction in course derives the visibility of the rows it inserts from
    // the setting it read; the refresh below cannot see those rows before they commit, and no later
    // write refreshes them. So the refresh waits for the product's release writers, and those that
    // come after it see the new setting. The locks are taken before the products rows are: a
    // release writer holding its lock may update its product's row (recordRepositoryIdentity), and
    // taking them after that row would deadlock with it. Relisted products need no lock: the full
    // listing their reset asks for reads every tag again, rows written meanwhile included.
    await holdProductDefinitionsLock(transaction);
    await holdReleaseWriteLocks(transaction, await productsChangingVisibility(transaction, definitions));
    const rows = definitions.map((product) => [
      product.name,
      product.repository,
      product.tagPattern,
      product.plainTagsPublic,
      product.public,
      product.description ?? null,
    ]);
    const changed = await transaction.any(sql.type(z.object({ id: z.number(), relist: z.boolean(), rederive: z.boolean() }))`
      WITH previous AS (
        SELECT id, repository, tag_pattern, plain_tags_public FROM products
        WHERE name = ANY(${sql.array(
          definitions.map((product) => product.name),
          'text',
        )})
      ),
      upserted AS (
        INSERT INTO products (name, repository, tag_pattern, plain_tags_public, public, description)
        SELECT * FROM ${sql.unnest(rows, ['text', 'text', 'text', 'bool', 'bool', 'text'])}
        ON CONFLICT (name) DO UPDATE SET
          repository = excluded.repository,
          tag_pattern = excluded.tag_pattern,
          plain_tags_public = excluded.plain_tags_public,
          public = excluded.public,
          description = excluded.description,
          tracked = true,
          github_repository_id = CASE WHEN lower(products.repository) = lower(excluded.repository) THEN products.github_repository_id END,
          github_full_name = CASE WHEN lower(products.repository) = lower(excluded.repository) THEN products.github_full_name END,
          updated_at = now()
        WHERE (products.repository, products.tag_pattern, products.plain_tags_public, products.public, products.description, products.tracked)
          IS DISTINCT FROM (excluded.repository, excluded.tag_pattern, excluded.plain_tags_public, excluded.public, excluded.description, true)
        RETURNING id, repository, tag_pattern, plain_tags_public
      )
      SELECT u.id,
             (lower(p.repository) <> lower(u.repository) OR p.tag_pattern <> u.tag_pattern) AS relist,
             (p.plain_tags_public <> u.plain_tags_public) AS rederive
      FROM upserted u JOIN previous p ON p.id = u.id`);
    await transaction.query(sql.unsafe`
      UPDATE products SET tracked = false, updated_at = now()
      WHERE tracked AND NOT (name = ANY(${sql.array(
        definitions.map((product) => product.name),
        'text',
      )}))`);
    const relist = changed.filter((product) => product.relist).map((product) => product.id);
    if (relist.length > 0) await resetSyncForRelisting(transaction, relist);
    for (const product of changed.filter((candidate) => candidate.rederive)) {
      await refreshReleaseRows(transaction, product.id, 'all');
    }
    return listProducts(transaction);
  });
}

/** The stored products whose `plainTagsPublic` differs from their definition's. */
async function productsChangingVisibility(db: Queryable, definitions: readonly ProductDefinition[]): Promise<number[]> {
  const rows = definitions.map((product) => [product.name, product.plainTagsPublic]);
  return [
    ...(await db.anyFirst(sql.type(z.object({ id: z.number() }))`
      SELECT p.id FROM products p
      JOIN ${sql.unnest(rows, ['text', 'bool'])} AS d(name, plain_tags_public) ON d.name = p.name
      WHERE p.plain_tags_public <> d.plain_tags_public`)),
  ];
}

export async function listProducts(db: Queryable, options: { includeUntracked?: boolean } = {}): Promise<Product[]> {
  const filter = options.includeUntracked ? sql.fragment`true` : sql.fragment`tracked`;
  return [...(await db.any(sql.type(productSchema)`SELECT ${productColumns} FROM products WHERE ${filter} ORDER BY name`))];
}

export async function findProductByName(db: Queryable, name: string): Promise<Product | null> {
  return db.maybeOne(sql.type(productSchema)`SELECT ${productColumns} FROM products WHERE name = ${name} AND tracked`);
}

/** The tracked products among `ids` (a product untracked since is left out). */
export async function findTrackedProductsByIds(db: Queryable, ids: readonly number[]): Promise<Product[]> {
  if (ids.length === 0) return [];
  return [...(await db.any(sql.type(productSchema)`SELECT ${productColumns} FROM products WHERE tracked AND id = ANY(${sql.array([...ids], 'int4')}) ORDER BY name`))];
}

/**
 * The condition that a product `p` is one of the tracked products of the repository with GitHub id
 * `id` and lower-cased owner/name `lowerFullName` (either may be null): GitHub's id wins over the
 * name, so a renamed or transferred repository keeps its products; the name matches the configured
 * repository or the last name GitHub reported. The one spelling of the match, for the intake's
 * statement that matches each delivery as it stores it and for replay's. Constant text for given
 * arguments (the intake's statement is a named prepared one).
 */
export function repositoryMatch(id: FragmentSqlToken, lowerFullName: FragmentSqlToken): FragmentSqlToken {
  return sql.fragment`p.tracked AND (
    (${id} IS NOT NULL AND p.github_repository_id = ${id})
    OR (
      (p.github_repository_id IS NULL OR ${id} IS NULL)
      AND ${lowerFullName} IS NOT NULL
      AND (lower(p.repository) = ${lowerFullName} OR lower(p.github_full_name) = ${lowerFullName})
    )
  )`;
}

/** Remembers GitHub's id and current name of a product's repository (worker only). */
export async function recordRepositoryIdentity(db: Queryable, productIds: readonly number[], repository: { id: number; fullName: string }): Promise<void> {
  await db.query(sql.unsafe`
    UPDATE products
    SET github_repository_id = ${repository.id}, github_full_name = ${repository.fullName}, updated_at = now()
    WHERE id = ANY(${sql.array([...productIds], 'int4')})
      AND (github_repository_id, github_full_name) IS DISTINCT FROM (${repository.id}::bigint, ${repository.fullName}::text)`);
}

/**
 * owner/name to use for GitHub calls: the last name GitHub reported, else the configured one. Both
 * were checked when written; a malformed one throws rather than sending a request for a wrong path.
 */
export function repositoryPath(product: Pick<Product, 'repository' | 'githubFullName'>): RepositoryRef {
  return parseRepositoryName(product.githubFullName ?? product.repository);
}
