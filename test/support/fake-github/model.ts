import { createHash } from 'node:crypto';
import type { FixtureTag } from '../fixtures.ts';

// The fake GitHub's data: repositories with git objects (tag objects, commits, blobs), tag refs and
// releases. A repository's tags come from a base (a real tag list, or a synthetic generator that
// derives every tag from its index so that 100,000 tags cost almost no memory) plus an overlay of
// the changes tests make (add / move / delete), so a mutation never copies the base.

export type ObjectType = 'commit' | 'tag' | 'blob' | 'tree';
export type TagRefRecord = { name: string; sha: string; type: ObjectType };
export type GitActorRecord = { name: string; email: string; /** ISO 8601 with the author's offset. */ date: string };
export type TagObjectRecord = {
  kind: 'tag';
  sha: string;
  tag: string;
  message: string;
  tagger: GitActorRecord | null;
  target: { sha: string; type: ObjectType };
};
export type CommitRecord = { kind: 'commit'; sha: string; committedDate: string; authoredDate: string; message: string; tree: string; parents: string[] };
export type LeafRecord = { kind: 'blob' | 'tree'; sha: string };
export type GitObjectRecord = TagObjectRecord | CommitRecord | LeafRecord;

export type ReleaseRecord = {
  id: number;
  tagName: string;
  name: string | null;
  body: string;
  draft: boolean;
  prerelease: boolean;
  createdAt: Date;
  publishedAt: Date | null;
  updatedAt: Date;
  targetCommitish: string;
};

/** What a sync should conclude about a tag: the fake's truth, computed from its objects. */
export type ExpectedTag = { name: string; refSha: string; gitSha: string | null; taggedAt: Date | null };

interface TagSource {
  readonly size: number;
  sortedNames(): readonly string[];
  ref(name: string): TagRefRecord | undefined;
  object(sha: string): GitObjectRecord | undefined;
}

/** Byte order for ASCII names, which is git's order (and GitHub's for refs). */
export function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function fakeSha(...parts: Array<string | number>): string {
  return createHash('sha1').update(parts.join('\0')).digest('hex');
}

/** Tags from a real tag list (test/fixtures/tags/*.json), with every object it implies. */
class FixtureTagSource implements TagSource {
  readonly #refs = new Map<string, TagRefRecord>();
  readonly #objects = new Map<string, GitObjectRecord>();
  readonly #sorted: string[];

  constructor(tags: readonly FixtureTag[]) {
    const annotatedByPeeled = new Map<string, FixtureTag>();
    for (const tag of tags) if (tag.annotated && !tag.nested_tag) annotatedByPeeled.set(tag.peeled_sha, tag);
    for (const tag of tags) {
      this.#refs.set(tag.name, { name: tag.name, sha: tag.object_sha, type: tag.object_type });
      if (tag.peeled_type === 'commit') {
        const date = tag.commit_date ?? tag.date ?? '2020-01-01T00:00:00Z';
        this.#objects.set(tag.peeled_sha, commitRecord(tag.peeled_sha, date, tag.message_subject ?? tag.name));
      } else {
        this.#objects.set(tag.peeled_sha, { kind: tag.peeled_type === 'tree' ? 'tree' : 'blob', sha: tag.peeled_sha });
      }
      if (!tag.annotated) continue;
      let target: { sha: string; type: ObjectType } = { sha: tag.peeled_sha, type: tag.peeled_type as ObjectType };
      if (tag.nested_tag) {
        // The list records only the outer and the fully peeled object; the tag object in between
        // is the one of the tag it re-tags (git/git: v1.0rc1 re-tags v0.99.9h), else made up.
        const inner = annotatedByPeeled.get(tag.peeled_sha);
        const innerSha = inner?.object_sha ?? fakeSha('inner-tag', tag.name);
        if (inner === undefined) {
          this.#objects.set(innerSha, { kind: 'tag', sha: innerSha, tag: `${tag.name}^{}`, message: '', tagger: null, target });
        }
        target = { sha: innerSha, type: 'tag' };
      }
      this.#objects.set(tag.object_sha, {
        kind: 'tag',
        sha: tag.object_sha,
        tag: tag.name,
        message: tag.message_subject ?? '',
        tagger: tag.tagger_date ? { name: tag.tagger_name ?? 'Tagger', email: emailOf(tag.tagger_name), date: tag.tagger_date } : null,
        target,
      });
    }
    this.#sorted = [...this.#refs.keys()].sort(compareNames);
  }

  get size() {
    return this.#sorted.length;
  }
  sortedNames() {
    return this.#sorted;
  }
  ref(name: string) {
    return this.#refs.get(name);
  }
  object(sha: string) {
    return this.#objects.get(sha);
  }
}

/**
 * `count` tags derived from their index i: name v<i/10000>.<i/100%100>.<i%100> (every 25th an
 * `-rc.1`), every 5th lightweight, the rest annotated; one commit per tag, an hour apart. Object
 * ids carry the index (kind letter + 8 hex digits + hash), so lookups need no table.
 */
class SyntheticTagSource implements TagSource {
  readonly size: number;
  readonly #seed: string;
  #sorted: string[] | undefined;
  static readonly START = Date.parse('2015-01-01T00:00:00Z');

  constructor(count: number, seed: string) {
    this.size = count;
    this.#seed = seed;
  }

  static nameOf(index: number): string {
    return syntheticTagName(index);
  }

  #indexOf(name: string): number | undefined {
    const match = /^v(\d+)\.(\d+)\.(\d+)(-rc\.1)?$/.exec(name);
    if (match === null) return undefined;
    const index = Number(match[1]) * 10000 + Number(match[2]) * 100 + Number(match[3]);
    return index < this.size && SyntheticTagSource.nameOf(index) === name ? index : undefined;
  }

  #sha(kind: 'a' | 'c', index: number): string {
    return `${kind}${index.toString(16).padStart(8, '0')}${fakeSha(this.#seed, kind, index).slice(0, 31)}`;
  }

  sortedNames() {
    this.#sorted ??= Array.from({ length: this.size }, (_, index) => SyntheticTagSource.nameOf(index)).sort(compareNames);
    return this.#sorted;
  }

  ref(name: string): TagRefRecord | undefined {
    const index = this.#indexOf(name);
    if (index === undefined) return undefined;
    return index % 5 === 0 ? { name, sha: this.#sha('c', index), type: 'commit' } : { name, sha: this.#sha('a', index), type: 'tag' };
  }

  object(sha: string): GitObjectRecord | undefined {
    const index = Number.parseInt(sha.slice(1, 9), 16);
    if (!/^[ac][0-9a-f]{39}$/.test(sha) || !(index < this.size) || this.#sha(sha[0] as 'a' | 'c', index) !== sha) return undefined;
    const date = new Date(SyntheticTagSource.START + index * 3_600_000);
    const commitSha = this.#sha('c', index);
    if (sha[0] === 'c') return commitRecord(commitSha, isoUtc(date), `Release ${SyntheticTagSource.nameOf(index)}`);
    if (index % 5 === 0) return undefined;
    const name = SyntheticTagSource.nameOf(index);
    return {
      kind: 'tag',
      sha,
      tag: name,
      message: `Release ${name}`,
      tagger: { name: 'Release Bot', email: 'release-bot@example.com', date: isoUtc(new Date(date.getTime() + 600_000)) },
      target: { sha: commitSha, type: 'commit' },
    };
  }
}

const emptySource: TagSource = { size: 0, sortedNames: () => [], ref: () => undefined, object: () => undefined };

export type TagSpec = {
  name: string;
  /** Annotated (a tag object) unless false. */
  annotated?: boolean;
  /** Tag an existing commit; otherwise a new commit is made. */
  commitSha?: string;
  commitDate?: Date | string;
  /** Tagger date of an annotated tag; null makes a tag object without a tagger line. */
  taggerDate?: Date | string | null;
  message?: string;
  /** Tag what this existing tag's ref points at (a tag of a tag when that one is annotated). */
  retag?: string;
};

export type ReleaseSpec = {
  tagName: string;
  name?: string | null;
  body?: string;
  draft?: boolean;
  prerelease?: boolean;
  createdAt?: Date;
  /** Defaults to createdAt for a non-draft release. */
  publishedAt?: Date | null;
};

export class FakeRepository {
  readonly id: number;
  owner: string;
  name: string;
  /** Names this repository answered to before a rename (REST answers them with a 301). */
  readonly previousNames: string[] = [];
  /** A repository created without a first commit: GitHub's git refs endpoints answer 409 "Git Repository is empty." */
  noCommits = false;
  /** Bumped by every change to tags / releases: ETags of streamed bodies derive from it. */
  tagsVersion = 0;
  releasesVersion = 0;
  readonly #base: TagSource;
  readonly #overlay = new Map<string, TagRefRecord | null>();
  readonly #objects = new Map<string, GitObjectRecord>();
  readonly #releases = new Map<number, ReleaseRecord>();
  #sorted: readonly string[] | undefined;
  #sortedReleases: ReleaseRecord[] | undefined;
  readonly #nextReleaseId: () => number;
  #counter = 0;

  constructor(init: { id: number; owner: string; name: string; base?: TagSource; nextReleaseId: () => number }) {
    this.id = init.id;
    this.owner = init.owner;
    this.name = init.name;
    this.#base = init.base ?? emptySource;
    this.#nextReleaseId = init.nextReleaseId;
  }

  static fromFixture(init: { id: number; owner: string; name: string; tags: readonly FixtureTag[]; nextReleaseId: () => number }): FakeRepository {
    return new FakeRepository({ ...init, base: new FixtureTagSource(init.tags) });
  }

  static synthetic(init: { id: number; owner: string; name: string; tags: number; nextReleaseId: () => number }): FakeRepository {
    return new FakeRepository({ ...init, base: new SyntheticTagSource(init.tags, `${init.owner}/${init.name}`) });
  }

  get fullName(): string {
    return `${this.owner}/${this.name}`;
  }

  // --- reading ---------------------------------------------------------------------------

  /** Tag names in byte order. */
  tagNames(): readonly string[] {
    if (this.#overlay.size === 0) return this.#base.sortedNames();
    if (this.#sorted === undefined) {
      const names = this.#base.sortedNames().filter((name) => !this.#overlay.has(name));
      for (const [name, ref] of this.#overlay) if (ref !== null) names.push(name);
      this.#sorted = names.sort(compareNames);
    }
    return this.#sorted;
  }

  get tagCount(): number {
    return this.tagNames().length;
  }

  tagRef(name: string): TagRefRecord | undefined {
    const changed = this.#overlay.get(name);
    if (changed !== undefined) return changed ?? undefined;
    return this.#base.ref(name);
  }

  object(sha: string): GitObjectRecord | undefined {
    return this.#objects.get(sha) ?? this.#base.object(sha);
  }

  /** What a correct client concludes about a tag (src/domain/README.md), from the fake's objects. */
  expectedTag(name: string): ExpectedTag | undefined {
    const ref = this.tagRef(name);
    if (ref === undefined) return undefined;
    let object = this.object(ref.sha);
    const outer = object;
    while (object?.kind === 'tag') object = this.object(object.target.sha);
    const commit = object?.kind === 'commit' ? object : undefined;
    const taggerDate = outer?.kind === 'tag' ? outer.tagger?.date : undefined;
    const date = taggerDate ?? commit?.committedDate;
    return { name, refSha: ref.sha, gitSha: commit?.sha ?? null, taggedAt: date === undefined ? null : new Date(date) };
  }

  /** Releases newest first (created_at, then id), as GitHub lists them. */
  releases(): readonly ReleaseRecord[] {
    this.#sortedReleases ??= [...this.#releases.values()].sort(
      (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || b.id - a.id,
    );
    return this.#sortedReleases;
  }

  release(id: number): ReleaseRecord | undefined {
    return this.#releases.get(id);
  }

  /** Releases naming `tagName`, newest first. */
  releasesOfTag(tagName: string): ReleaseRecord[] {
    return this.releases().filter((release) => release.tagName === tagName);
  }

  // --- changing --------------------------------------------------------------------------

  addTag(spec: TagSpec): TagRefRecord {
    if (this.tagRef(spec.name) !== undefined) throw new Error(`fake GitHub: tag ${spec.name} already exists in ${this.fullName}`);
    return this.#writeTag(spec);
  }

  /** Points an existing tag at another (new or given) commit, with a new tag object if annotated. */
  moveTag(name: string, spec: Omit<TagSpec, 'name'> = {}): TagRefRecord {
    if (this.tagRef(name) === undefined) throw new Error(`fake GitHub: no tag ${name} in ${this.fullName}`);
    return this.#writeTag({ ...spec, name });
  }

  deleteTag(name: string): void {
    if (this.tagRef(name) === undefined) throw new Error(`fake GitHub: no tag ${name} in ${this.fullName}`);
    this.#overlay.set(name, null);
    this.#tagsChanged();
  }

  createRelease(spec: ReleaseSpec): ReleaseRecord {
    const createdAt = spec.createdAt ?? new Date();
    const draft = spec.draft ?? false;
    const release: ReleaseRecord = {
      id: this.#nextReleaseId(),
      tagName: spec.tagName,
      name: spec.name === undefined ? spec.tagName : spec.name,
      body: spec.body ?? '',
      draft,
      prerelease: spec.prerelease ?? false,
      createdAt,
      publishedAt: draft ? null : spec.publishedAt === undefined ? createdAt : spec.publishedAt,
      updatedAt: createdAt,
      targetCommitish: 'main',
    };
    this.#releases.set(release.id, release);
    this.#releasesChanged();
    return release;
  }

  publishRelease(id: number, at: Date = new Date()): ReleaseRecord {
    return this.editRelease(id, { draft: false, publishedAt: at });
  }

  editRelease(id: number, patch: Partial<Omit<ReleaseRecord, 'id'>>): ReleaseRecord {
    const release = this.#releases.get(id);
    if (release === undefined) throw new Error(`fake GitHub: no release ${id} in ${this.fullName}`);
    Object.assign(release, patch, { updatedAt: patch.updatedAt ?? new Date() });
    if (release.draft) release.publishedAt = null;
    this.#releasesChanged();
    return release;
  }

  deleteRelease(id: number): void {
    if (!this.#releases.delete(id)) throw new Error(`fake GitHub: no release ${id} in ${this.fullName}`);
    this.#releasesChanged();
  }

  #writeTag(spec: TagSpec): TagRefRecord {
    this.#counter += 1;
    const salt = `${this.id}:${spec.name}:${this.#counter}`;
    const commitDate = toIso(spec.commitDate ?? new Date());
    let commitSha = spec.commitSha;
    if (commitSha === undefined) {
      commitSha = fakeSha('commit', salt);
      this.#objects.set(commitSha, commitRecord(commitSha, commitDate, spec.message ?? `Commit for ${spec.name}`));
    } else if (this.object(commitSha) === undefined) {
      this.#objects.set(commitSha, commitRecord(commitSha, commitDate, spec.message ?? `Commit for ${spec.name}`));
    }
    let ref: TagRefRecord = { name: spec.name, sha: commitSha, type: 'commit' };
    let target: { sha: string; type: ObjectType } = { sha: commitSha, type: 'commit' };
    if (spec.retag !== undefined) {
      const retagged = this.tagRef(spec.retag);
      if (retagged === undefined) throw new Error(`fake GitHub: no tag ${spec.retag} to retag in ${this.fullName}`);
      target = { sha: retagged.sha, type: retagged.type };
      ref = { name: spec.name, ...target };
    }
    if (spec.annotated ?? true) {
      const tagSha = fakeSha('tag', salt);
      const taggerDate = spec.taggerDate === undefined ? toIso(new Date()) : spec.taggerDate === null ? null : toIso(spec.taggerDate);
      this.#objects.set(tagSha, {
        kind: 'tag',
        sha: tagSha,
        tag: spec.name,
        message: spec.message ?? `Release ${spec.name}`,
        tagger: taggerDate === null ? null : { name: 'Release Bot', email: 'release-bot@example.com', date: taggerDate },
        target,
      });
      ref = { name: spec.name, sha: tagSha, type: 'tag' };
    }
    this.#overlay.set(spec.name, ref);
    this.#tagsChanged();
    return ref;
  }

  #tagsChanged(): void {
    this.tagsVersion += 1;
    this.#sorted = undefined;
  }

  #releasesChanged(): void {
    this.releasesVersion += 1;
    this.#sortedReleases = undefined;
  }
}

/** The name of a synthetic repository's tag number `index` (0-based, in generation order). */
export function syntheticTagName(index: number): string {
  const base = `v${Math.floor(index / 10000)}.${Math.floor(index / 100) % 100}.${index % 100}`;
  return index % 25 === 24 ? `${base}-rc.1` : base;
}

function commitRecord(sha: string, date: string, message: string): CommitRecord {
  return { kind: 'commit', sha, committedDate: date, authoredDate: date, message, tree: fakeSha('tree', sha), parents: [] };
}

function emailOf(name: string | null | undefined): string {
  return `${(name ?? 'tagger').toLowerCase().replace(/[^a-z0-9]+/g, '.')}@example.com`;
}

function toIso(value: Date | string): string {
  return typeof value === 'string' ? value : isoUtc(value);
}

/** GitHub's REST and DateTime style: UTC, whole seconds ("2013-02-27T19:35:32Z"). */
export function isoUtc(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
