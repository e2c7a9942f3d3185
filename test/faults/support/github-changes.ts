import type { FakeRepository } from '../../support/fake-github/index.ts';
import { releaseEvent, tagDeleted, tagMoved, tagPushed, type Repo } from '../../support/github-events.ts';
import { seededRandom } from '../../support/seeded-random.ts';
import { fixturePayload, type Delivery } from '../../support/webhooks.ts';

// A seeded stream of changes to a fake GitHub repository, each with the deliveries GitHub sends for
// it (real payload shapes from test/fixtures/webhooks/): tags pushed, moved and deleted, releases
// created, published, edited, unpublished and deleted, and the odd ping. The repository changes as
// the deliveries are made, so the fake's final state is what every delivery, in any order, must
// converge to.

/**
 * At least `count` deliveries for `repository`, made by changing it step by step. Tag names come
 * from a pool of `names` versions (some prereleases), so tags are also deleted and pushed again.
 */
export function deliveriesForChanges(repository: FakeRepository, count: number, options: { seed: number; names?: number }): Delivery[] {
  const rand = seededRandom(options.seed);
  const repo: Repo = { id: repository.id, fullName: repository.fullName };
  const pool = Array.from({ length: options.names ?? 400 }, (_, index) => {
    const version = `${1 + Math.floor(index / 100)}.${Math.floor(index / 10) % 10}.${index % 10}`;
    return index % 9 === 4 ? `v${version}-rc.1` : `v${version}`;
  });
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(rand() * items.length)];
  const deliveries: Delivery[] = [];
  while (deliveries.length < count) deliveries.push(...step());
  return deliveries;

  function step(): Delivery[] {
    const live = repository.tagNames();
    const releases = repository.releases();
    const published = (tagName: string) => releases.some((release) => release.tagName === tagName && !release.draft);
    const roll = rand();
    if (roll < 0.36 || live.length < 5) {
      const name = pick(pool.filter((candidate) => !live.includes(candidate)));
      if (name === undefined) return [];
      return tagPushed(repo, name, repository.addTag({ name, annotated: rand() < 0.6 }).sha);
    }
    if (roll < 0.62) {
      // At most one published release per tag: which of two GitHub returns for a tag is undocumented.
      const tagName = pick(live.filter((name) => !published(name)));
      if (tagName === undefined) return [];
      const draft = rand() < 0.2;
      const release = repository.createRelease({ tagName, draft, prerelease: rand() < 0.2, name: `Release ${tagName}` });
      const created = releaseEvent(repo, 'created', release);
      if (draft) return [created];
      return [created, releaseEvent(repo, 'published', release), releaseEvent(repo, release.prerelease ? 'prereleased' : 'released', release)];
    }
    if (roll < 0.7) {
      const draft = pick(releases.filter((release) => release.draft && !published(release.tagName) && live.includes(release.tagName)));
      if (draft === undefined) return [];
      const release = repository.publishRelease(draft.id);
      return [releaseEvent(repo, 'published', release), releaseEvent(repo, release.prerelease ? 'prereleased' : 'released', release)];
    }
    if (roll < 0.78) {
      const name = pick(live);
      if (name === undefined) return [];
      return tagMoved(repo, name, repository.moveTag(name, { annotated: rand() < 0.6 }).sha);
    }
    if (roll < 0.85) {
      const name = pick(live);
      if (name === undefined) return [];
      repository.deleteTag(name);
      return tagDeleted(repo, name);
    }
    if (roll < 0.92) {
      const release = pick(releases);
      if (release === undefined) return [];
      return [releaseEvent(repo, 'edited', repository.editRelease(release.id, { name: `Renamed ${Math.floor(rand() * 1000)}` }))];
    }
    if (roll < 0.95) {
      const release = pick(releases.filter((candidate) => !candidate.draft));
      if (release === undefined) return [];
      return [releaseEvent(repo, 'unpublished', repository.editRelease(release.id, { draft: true }))];
    }
    if (roll < 0.98) {
      const release = pick(releases);
      if (release === undefined) return [];
      const gone = { ...release };
      repository.deleteRelease(release.id);
      return [releaseEvent(repo, 'deleted', gone)];
    }
    return [{ event: 'ping', payload: fixturePayload('ping/payload', { repository: repo }) }];
  }
}
