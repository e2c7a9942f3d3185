import { sql } from 'slonik';
import { z } from 'zod';
import type { Queryable } from '../../src/db/pool.ts';

// A product's releases rows as tests compare them: every column a client can see, tombstones
// included, in tag order.

export const releaseRow = z.object({
  tag: z.string(),
  version: z.string(),
  refSha: z.string().nullable(),
  gitSha: z.string().nullable(),
  taggedAt: z.date().nullable(),
  githubReleaseId: z.number().nullable(),
  releaseName: z.string().nullable(),
  releaseDraft: z.boolean().nullable(),
  releasePrerelease: z.boolean().nullable(),
  releasePublishedAt: z.date().nullable(),
  public: z.boolean(),
  isDevelopment: z.boolean(),
  promotedAt: z.date().nullable(),
  isCanonical: z.boolean(),
  deleted: z.boolean(),
});
export type ReleaseRow = z.infer<typeof releaseRow>;

/** The releases rows of the product with this name, or this id. */
export async function releaseRows(db: Queryable, product: string | number): Promise<ReleaseRow[]> {
  const which = typeof product === 'number' ? sql.fragment`p.id = ${product}` : sql.fragment`p.name = ${product}`;
  return [
    ...(await db.any(sql.type(releaseRow)`
      SELECT r.tag, r.version, r.ref_sha AS "refSha", r.git_sha AS "gitSha", r.tagged_at AS "taggedAt",
             r.github_release_id AS "githubReleaseId", r.release_name AS "releaseName", r.release_draft AS "releaseDraft",
             r.release_prerelease AS "releasePrerelease", r.release_published_at AS "releasePublishedAt", r.public,
             r.is_development AS "isDevelopment", r.promoted_at AS "promotedAt", r.is_canonical AS "isCanonical",
             r.deleted_at IS NOT NULL AS deleted
      FROM releases r JOIN products p ON p.id = r.product_id
      WHERE ${which}
      ORDER BY r.tag COLLATE "C"`)),
  ];
}
