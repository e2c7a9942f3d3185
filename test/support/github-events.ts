import type { Delivery } from './webhooks.ts';
import { fixturePayload } from './webhooks.ts';

// The deliveries GitHub sends for a change, built from the real payloads in test/fixtures/webhooks/
// rewritten to the repository, tag and release at hand.

export type Repo = { id: number; fullName: string };
type ReleaseLike = { id: number; tagName: string; draft: boolean; prerelease: boolean; name?: string | null; publishedAt?: Date | null };

const ZERO_SHA = '0'.repeat(40);

/** A tag pushed: `create` (ref_type tag) and `push` to refs/tags/<name>. */
export function tagPushed(repository: Repo, name: string, sha: string): Delivery[] {
  const push = fixturePayload('push/payload', { repository, tag: name, after: sha });
  push.before = ZERO_SHA;
  return [
    { event: 'create', payload: fixturePayload('create/payload', { repository, tag: name }) },
    { event: 'push', payload: push },
  ];
}

/** A tag force-pushed to another commit: `push` with forced. */
export function tagMoved(repository: Repo, name: string, sha: string): Delivery[] {
  const push = fixturePayload('push/payload', { repository, tag: name, after: sha });
  push.before = 'f'.repeat(40);
  push.forced = true;
  push.created = false;
  return [{ event: 'push', payload: push }];
}

/** A tag deleted: `delete` (ref_type tag) and `push` with deleted. */
export function tagDeleted(repository: Repo, name: string): Delivery[] {
  return [
    { event: 'delete', payload: fixturePayload('delete/payload', { repository, tag: name }) },
    { event: 'push', payload: fixturePayload('push/1', { repository, tag: name }) },
  ];
}

/** A release event with one of GitHub's actions, for the release as it is after the change. */
export function releaseEvent(
  repository: Repo,
  action: 'created' | 'published' | 'released' | 'prereleased' | 'edited' | 'unpublished' | 'deleted',
  release: ReleaseLike,
  options: { previousTag?: string } = {},
): Delivery {
  const fixture = action === 'released' || action === 'prereleased' || action === 'edited' || action === 'deleted' || action === 'created' ? action : 'published';
  const payload = fixturePayload(`release/${fixture}`, {
    repository,
    tag: release.tagName,
    releaseId: release.id,
    release: { draft: release.draft, prerelease: release.prerelease, publishedAt: release.publishedAt?.toISOString() ?? null },
  });
  payload.action = action;
  const body = payload.release as Record<string, unknown>;
  body.node_id = `RE_${release.id}`;
  body.name = release.name ?? '';
  if (action === 'edited') payload.changes = options.previousTag === undefined ? { name: { from: 'old name' } } : { tag_name: { from: options.previousTag } };
  return { event: 'release', payload };
}
