import type { FakeRepository, ReleaseRecord } from './fake-github/index.ts';
import { releaseEvent, tagDeleted, tagMoved, tagPushed, type Repo } from './github-events.ts';
import { seededRandom } from './seeded-random.ts';
import { fixturePayload, type Delivery } from './webhooks.ts';

// Random changes to a fake GitHub repository, each with the deliveries GitHub sends for it (real
// payload shapes from the fixtures): tags pushed, moved and deleted; releases created, published,
// edited (renamed, flipped to prerelease, moved to another tag), unpublished and deleted; the odd
// ping. The repository changes as the deliveries are made, so the fake's final state is what every
// delivery, in any order, must converge to. Both the convergence test and the fault suite draw
// from here.

export type ChangeOptions = {
  /** The tag names changes draw from (a small pool makes tags deleted and pushed again). */
  names: readonly string[];
  /** While fewer tags than this are live, every change pushes one. */
  minLiveTags?: number;
  /** Share of changes that are a ping instead. */
  pingShare?: number;
};

/** One random change to GitHub, and the deliveries GitHub sends for it (none when nothing applies). */
export function randomChange(github: FakeRepository, repo: Repo, rand: () => number, options: ChangeOptions): Delivery[] {
  const { names } = options;
  const pick = <T>(items: readonly T[]): T | undefined => items[Math.floor(rand() * items.length)];
  const liveNames = [...github.tagNames()];
  const releases = github.releases();
  const hasPublished = (tagName: string, except?: number) => releases.some((release) => release.tagName === tagName && !release.draft && release.id !== except);
  const outcome = (release: ReleaseRecord) => (release.prerelease ? 'prereleased' : 'released');
  const roll = rand();
  if (roll < 0.22 || liveNames.length < (options.minLiveTags ?? 0)) {
    const live = new Set(liveNames);
    const name = pick(names.filter((candidate) => !live.has(candidate)));
    if (name === undefined) return [];
    return tagPushed(repo, name, github.addTag({ name, annotated: rand() < 0.6 }).sha);
  }
  if (roll < 0.34) {
    const name = pick(liveNames);
    if (name === undefined) return [];
    return tagMoved(repo, name, github.moveTag(name, { annotated: rand() < 0.6 }).sha);
  }
  if (roll < 0.44) {
    const name = pick(liveNames);
    if (name === undefined) return [];
    github.deleteTag(name);
    return tagDeleted(repo, name);
  }
  if (roll < 0.6) {
    // Mostly for a tag that exists; now and then for one that does not (yet, or any more).
    const tagName = (rand() < 0.8 ? pick(liveNames) : undefined) ?? pick(names)!;
    // At most one published release per tag: which of two GitHub returns for a tag is undocumented.
    const draft = rand() < 0.35 || hasPublished(tagName);
    const release = github.createRelease({ tagName, draft, prerelease: rand() < 0.3, name: `Release ${tagName}` });
    const created = releaseEvent(repo, 'created', release);
    return draft ? [created] : [created, releaseEvent(repo, 'published', release), releaseEvent(repo, outcome(release), release)];
  }
  if (roll < 0.7) {
    const draft = pick(releases.filter((release) => release.draft && !hasPublished(release.tagName)));
    if (draft === undefined) return [];
    const published = github.publishRelease(draft.id, new Date(Date.UTC(2025, 0, 1) + Math.floor(rand() * 1e6) * 1000));
    return [releaseEvent(repo, 'published', published), releaseEvent(repo, outcome(published), published)];
  }
  if (roll < 0.78) {
    const published = pick(releases.filter((release) => !release.draft));
    if (published === undefined) return [];
    return [releaseEvent(repo, 'unpublished', github.editRelease(published.id, { draft: true }))];
  }
  if (roll < 0.9) {
    const release = pick(releases);
    if (release === undefined) return [];
    if (rand() < 0.5) return [releaseEvent(repo, 'edited', github.editRelease(release.id, { name: `Renamed ${Math.floor(rand() * 100)}`, prerelease: rand() < 0.3 }))];
    const to = pick(names.filter((name) => name !== release.tagName && (release.draft || !hasPublished(name))));
    if (to === undefined) return [];
    const from = release.tagName;
    return [releaseEvent(repo, 'edited', github.editRelease(release.id, { tagName: to }), { previousTag: from })];
  }
  if (roll < 0.9 + (options.pingShare ?? 0)) return [{ event: 'ping', payload: fixturePayload('ping/payload', { repository: repo }) }];
  const release = pick(releases);
  if (release === undefined) return [];
  const gone = { ...release };
  github.deleteRelease(release.id);
  return [releaseEvent(repo, 'deleted', gone)];
}

/**
 * At least `count` deliveries for `repository`, made by changing it step by step. Tag names come
 * from a pool of `names` versions (some prereleases); five tags at least stay live.
 */
export function deliveriesForChanges(repository: FakeRepository, count: number, options: { seed: number; names?: number }): Delivery[] {
  const rand = seededRandom(options.seed);
  const repo: Repo = { id: repository.id, fullName: repository.fullName };
  const names = Array.from({ length: options.names ?? 400 }, (_, index) => {
    const version = `${1 + Math.floor(index / 100)}.${Math.floor(index / 10) % 10}.${index % 10}`;
    return index % 9 === 4 ? `v${version}-rc.1` : `v${version}`;
  });
  const deliveries: Delivery[] = [];
  while (deliveries.length < count) deliveries.push(...randomChange(repository, repo, rand, { names, minLiveTags: 5, pingShare: 0.03 }));
  return deliveries;
}
