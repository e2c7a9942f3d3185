import { sql } from 'slonik';
import { z } from 'zod';
import { isoText, isoTimestamp } from './iso-timestamp.ts';
import type { Queryable } from './pool.ts';
import { releaseKey, releaseViewSchema, releaseViewsOf, type ReleaseView, type Visibility } from './release-reads.ts';

// The change log (release_changes, appended by the releases_change_log trigger) read as a feed
// that a client follows with `after=<id of the last event it received>`.
//
// Ids are taken before commit: a transaction can hold id 5 while id 6 commits first. A reader that
// went by id alone would move past 5 and never see it. So the feed
// - reads only changes whose transaction id is below the oldest transaction still running
//   (pg_snapshot_xmin of the current snapshot): those transactions have all ended, so no change
//   can still appear among them; and
// - orders by (xid, id): every change that commits later belongs to a transaction that was still
//   running, whose xid is at or above that horizon, so it sorts after everything already served.
// The cost is a delay: the feed stops at the oldest running transaction until it ends.

export const CHANGE_KINDS = ['created', 'updated', 'promoted', 'moved', 'deleted', 'revived'] as const;

export const eventRowSchema = z.object({
  id: z.number().int().describe('Position in the feed: pass the last one received as `after`'),
  kind: z.enum(CHANGE_KINDS),
  occurred_at: isoTimestamp,
  source: z.string().nullable().describe('The writer: `sync`, `webhook`, `admin`…'),
  product: z.string(),
  tag: z.string().describe('The git tag whose row changed (one of the version\'s tags)'),
  changes: z.record(z.string(), z.tuple([z.unknown(), z.unknown()])).describe('{ column: [old, new] } of the tag row; empty for `created`'),
  product_id: z.number().int(),
  version: z.string(),
});
type EventRow = z.infer<typeof eventRowSchema>;

/**
 * What an anonymous reader gets for a version that is not public now: which version it is, and that
 * it is not public (so a follower drops it), nothing of the state it has since.
 */
export const withdrawnReleaseSchema = releaseViewSchema
  .pick({ id: true, name: true, version: true, major: true, minor: true, patch: true, prerelease: true, deleted_at: true })
  .extend({ public: z.literal(false) });
export type WithdrawnRelease = z.infer<typeof withdrawnReleaseSchema>;

/** Of the columns an event changed, those an anonymous reader sees of a version not public now. */
const WITHDRAWAL_COLUMNS = ['public', 'promoted_at'];

export type ReleaseEvent = Omit<EventRow, 'product_id' | 'version'> & { release: ReleaseView | WithdrawnRelease };

/** Where a feed read continues: the (xid, id) of the event with id `after`, or the start. */
export type FeedPosition = { xid: string; id: number };

export const FEED_START: FeedPosition = { xid: '0', id: 0 };

/** The position of event `id`, or null when there is no such event. */
export async function findFeedPosition(db: Queryable, id: number): Promise<FeedPosition | null> {
  const xid = await db.maybeOneFirst(sql.type(z.object({ xid: z.string() }))`SELECT xid::text AS xid FROM release_changes WHERE id = ${id}`);
  return xid === null ? null : { xid, id };
}

/**
 * Up to `limit` events after `position`, each with its release as it is now. Anonymous readers
 * see events of public products whose version is public now, and the event that made a version
 * stop being public (so a follower can drop it), with only the version's identity and the change
 * of `public` and `promoted_at`.
 */
export async function listReleaseEvents(
  db: Queryable,
  options: { position: FeedPosition; limit: number; visibility: Visibility; productId?: number | undefined },
): Promise<ReleaseEvent[]> {
  const conditions = [sql.fragment`p.tracked`];
  if (options.visibility === 'public') {
    conditions.push(sql.fragment`p.public AND (c.public OR e.changes -> 'public' ->> 0 = 'true')`);
  }
  if (options.productId !== undefined) conditions.push(sql.fragment`e.product_id = ${options.productId}`);
  const rows = await db.any(sql.type(eventRowSchema)`
    SELECT e.id, e.kind, ${isoText(sql.fragment`e.occurred_at`)} AS occurred_at, e.source, p.name AS product, r.tag, e.changes,
           r.product_id, r.version
    FROM release_changes e
    JOIN releases r ON r.id = e.release_id
    JOIN products p ON p.id = r.product_id
    JOIN releases c ON c.product_id = r.product_id AND c.version = r.version AND c.is_canonical
    WHERE (e.xid, e.id) > (${options.position.xid}::xid8, ${options.position.id}::bigint)
      AND e.xid < pg_snapshot_xmin(pg_current_snapshot())
      AND ${sql.join(conditions, sql.fragment` AND `)}
    ORDER BY e.xid, e.id
    LIMIT ${options.limit}`);
  if (rows.length === 0) return [];
  const releases = await releaseViewsOf(
    db,
    rows.map((row) => ({ productId: row.product_id, version: row.version })),
  );
  return rows.map(({ product_id: productId, version, ...event }): ReleaseEvent => {
    const release = releases.get(releaseKey(event.product, version));
    // Every version has exactly one canonical row after each write (src/db/releases.ts): absence is a bug.
    if (release === undefined) throw new Error(`no canonical release for product ${productId} version ${version}`);
    if (options.visibility === 'public' && !release.public) {
      // The event that made the version stop being public: what it has become since is not public.
      // The schema keeps the identity fields and drops the rest.
      const changes = Object.fromEntries(Object.entries(event.changes).filter(([column]) => WITHDRAWAL_COLUMNS.includes(column)));
      return { ...event, changes, release: withdrawnReleaseSchema.parse({ ...release, public: false }) };
    }
    return { ...event, release };
  });
}
