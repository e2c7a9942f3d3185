import { findLiveReleaseIds } from '../db/github-releases.ts';
import type { Queryable } from '../db/pool.ts';
import type { Product } from '../db/products.ts';
import { deleteGithubReleases, upsertGithubReleases, writeTagPresence } from '../db/releases.ts';
import type { TagState } from './tag-states.ts';

export type AppliedCounts = {
  tagsWritten: number;
  tagsSkipped: number;
  tagsTombstoned: number;
  releasesWritten: number;
  releasesDeleted: number;
};

/**
 * Makes a product's rows for the named tags what GitHub says they are now, with the same writers
 * as the sync (src/db/releases.ts), in the caller's transaction (begun with beginReleaseWrite):
 *
 * - a tag GitHub has is upserted (revived if it was tombstoned, moved if its ref changed); a tag it
 *   does not have is tombstoned (writeTagPresence, as the sync's read of listed tags);
 * - the release GitHub returns for a tag is upserted; any other release we hold for that tag is
 *   marked deleted (the tag's release is GitHub's answer). Upserts come first, so a release whose
 *   tag was renamed (one state lists it under its new tag, the old tag's state no longer does) is
 *   moved, not deleted.
 *
 * Applying the same states twice changes nothing the second time.
 */
export async function applyTagStates(db: Queryable, product: Pick<Product, 'id' | 'tagPattern'>, states: readonly TagState[]): Promise<AppliedCounts> {
  const written = await writeTagPresence(db, product, states);

  const releases = states.flatMap((state) => state.releases);
  const { written: releasesWritten } = await upsertGithubReleases(db, product.id, releases);
  const returned = new Set(releases.map((release) => release.id));
  const held = await findLiveReleaseIds(
    db,
    product.id,
    states.map((state) => state.name),
  );
  const releasesDeleted = await deleteGithubReleases(
    db,
    product.id,
    held.filter((id) => !returned.has(id)),
  );
  return {
    tagsWritten: written.added + written.updated + written.moved + written.revived,
    tagsSkipped: written.skipped,
    tagsTombstoned: written.tombstoned,
    releasesWritten,
    releasesDeleted,
  };
}
