import { createHash } from 'node:crypto';
import type { GithubReleaseFact, TagFact } from '../../src/db/releases.ts';
import type { TagStateReader, TagStates } from '../../src/webhooks/tag-states.ts';

// A repository's tags and releases held in memory, changed by the test, read through the same
// TagStateReader contract as src/github/tag-states.ts (release(tagName:) semantics: the first
// non-draft release of the tag, else the first one, newest first).

export type MemoryRelease = GithubReleaseFact & { nodeId: string };

let nextReleaseId = 1_000;

export class MemoryRepository {
  readonly id: number;
  fullName: string;
  readonly #tags = new Map<string, TagFact>();
  readonly #releases = new Map<number, MemoryRelease>();
  #counter = 0;
  /** Reads made through `reader`, for tests that count them. */
  readonly reads: Array<{ tags: string[] }> = [];

  constructor(id: number, fullName: string) {
    this.id = id;
    this.fullName = fullName;
  }

  addTag(spec: { name: string; annotated?: boolean; taggedAt?: Date }): TagFact {
    if (this.#tags.has(spec.name)) throw new Error(`tag ${spec.name} exists`);
    return this.#writeTag(spec);
  }

  moveTag(name: string, spec: { annotated?: boolean; taggedAt?: Date } = {}): TagFact {
    if (!this.#tags.has(name)) throw new Error(`no tag ${name}`);
    return this.#writeTag({ ...spec, name });
  }

  deleteTag(name: string): void {
    if (!this.#tags.delete(name)) throw new Error(`no tag ${name}`);
  }

  tag(name: string): TagFact | undefined {
    return this.#tags.get(name);
  }

  tags(): TagFact[] {
    return [...this.#tags.values()];
  }

  createRelease(spec: { tagName: string; draft?: boolean; prerelease?: boolean; name?: string | null; createdAt?: Date; publishedAt?: Date | null }): MemoryRelease {
    const id = (nextReleaseId += 1);
    const createdAt = spec.createdAt ?? new Date(Date.UTC(2024, 0, 1) + id * 60_000);
    const draft = spec.draft ?? false;
    const release: MemoryRelease = {
      id,
      nodeId: `RE_${id}`,
      tagName: spec.tagName,
      name: spec.name === undefined ? spec.tagName : spec.name,
      draft,
      prerelease: spec.prerelease ?? false,
      createdAt,
      publishedAt: draft ? null : spec.publishedAt === undefined ? createdAt : spec.publishedAt,
      htmlUrl: `https://github.com/${this.fullName}/releases/tag/${spec.tagName}`,
    };
    this.#releases.set(id, release);
    return release;
  }

  editRelease(id: number, patch: Partial<Omit<MemoryRelease, 'id'>>): MemoryRelease {
    const release = this.#releases.get(id);
    if (release === undefined) throw new Error(`no release ${id}`);
    Object.assign(release, patch);
    if (release.draft) release.publishedAt = null;
    return release;
  }

  publishRelease(id: number, at: Date = new Date()): MemoryRelease {
    return this.editRelease(id, { draft: false, publishedAt: at });
  }

  deleteRelease(id: number): void {
    if (!this.#releases.delete(id)) throw new Error(`no release ${id}`);
  }

  release(id: number): MemoryRelease | undefined {
    return this.#releases.get(id);
  }

  releases(): MemoryRelease[] {
    return [...this.#releases.values()].sort((a, b) => (b.createdAt?.getTime() ?? 0) - (a.createdAt?.getTime() ?? 0) || b.id - a.id);
  }

  /** The TagStateReader a worker uses against this repository. */
  readonly reader: TagStateReader = async (repository, tagNames) => {
    if (`${repository.owner}/${repository.repo}`.toLowerCase() !== this.fullName.toLowerCase()) throw new Error(`unknown repository ${repository.owner}/${repository.repo}`);
    const names = [...new Set(tagNames)];
    this.reads.push({ tags: names });
    const states: TagStates['states'] = names.map((name) => {
      const candidates = this.releases().filter((release) => release.tagName === name);
      const chosen = candidates.find((release) => !release.draft) ?? candidates[0];
      const tag = this.#tags.get(name);
      return { name, tag: tag === undefined ? null : { ...tag }, releases: chosen === undefined ? [] : [factOf(chosen)] };
    });
    return { repository: { databaseId: this.id, nameWithOwner: this.fullName }, states };
  };

  #writeTag(spec: { name: string; annotated?: boolean; taggedAt?: Date }): TagFact {
    this.#counter += 1;
    const gitSha = sha('commit', this.id, spec.name, this.#counter);
    const annotated = spec.annotated ?? true;
    const fact: TagFact = {
      name: spec.name,
      refSha: annotated ? sha('tag', this.id, spec.name, this.#counter) : gitSha,
      gitSha,
      taggedAt: new Date(Math.floor((spec.taggedAt ?? new Date(Date.UTC(2024, 0, 1) + this.#counter * 3_600_000)).getTime() / 1000) * 1000),
    };
    this.#tags.set(spec.name, fact);
    return fact;
  }
}

export function factOf(release: MemoryRelease): GithubReleaseFact {
  const { nodeId: _nodeId, ...fact } = release;
  return { ...fact };
}

function sha(...parts: Array<string | number>): string {
  return createHash('sha1').update(parts.join('\0')).digest('hex');
}
