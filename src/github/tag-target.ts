import { z } from 'zod';
import type { TagFact } from '../db/releases.ts';
import type { GitHubClient } from './client.ts';
import type { RepositoryRef } from './repository-ref.ts';
import { objectId, timestamp } from './schemas.ts';

// What a tag ref points at, read in the same GraphQL query as the ref, and how it becomes a
// TagFact (src/domain/README.md):
//   - refSha: the ref's target (the tag object of an annotated tag, the commit of a lightweight one);
//   - gitSha: the commit reached by peeling tag objects; null when the chain ends at a blob or a
//     tree (git/git's `junio-gpg-pub` tags a blob);
//   - taggedAt: the outer tag object's tagger date; for a lightweight tag, or an annotated tag
//     without a tagger line (git/git's v0.99), the peeled commit's date.
// A tag can point at another tag (git/git's v1.0rc1..6 re-tag v0.99.9h..n). GraphQL fragments
// cannot recurse, so the query peels PEEL_DEPTH levels inline; the rare deeper chain is finished
// with `repository.object(oid:)` queries (one per 100 tags and level).

/** Tag objects peeled inside the listing query itself (beyond the ref's own target). */
export const PEEL_DEPTH = 4;

function peelSelection(depth: number): string {
  const deeper = depth === 0 ? '' : ` ... on Tag { target { ${peelSelection(depth - 1)} } }`;
  return `__typename oid ... on Commit { committedDate }${deeper}`;
}

/** Spread into a `target { ... }` of a Ref: `...TagTarget`. */
export const TAG_TARGET_FRAGMENT = `fragment TagTarget on GitObject {
  __typename oid
  ... on Commit { committedDate }
  ... on Tag { tagger { date } target { ${peelSelection(PEEL_DEPTH - 1)} } }
}`;

/** Continues peeling a tag object the listing query could not finish. */
const DEEP_PEEL_FRAGMENT = `fragment DeepPeel on GitObject { ${peelSelection(PEEL_DEPTH)} }`;

type PeeledObject =
  | { __typename: 'Commit'; oid: string; committedDate: Date }
  | { __typename: 'Tag'; oid: string; target?: PeeledObject | undefined }
  | { __typename: 'Blob' | 'Tree'; oid: string };

const commitObject = z.object({ __typename: z.literal('Commit'), oid: objectId, committedDate: timestamp });
const leafObject = z.object({ __typename: z.enum(['Blob', 'Tree']), oid: objectId });

function peeledObject(depth: number): z.ZodType<PeeledObject> {
  const tag = z.object({
    __typename: z.literal('Tag'),
    oid: objectId,
    ...(depth > 0 ? { target: peeledObject(depth - 1) } : {}),
  });
  return z.discriminatedUnion('__typename', [commitObject, leafObject, tag]) as unknown as z.ZodType<PeeledObject>;
}

export const tagTargetSchema = z.discriminatedUnion('__typename', [
  commitObject,
  leafObject,
  z.object({
    __typename: z.literal('Tag'),
    oid: objectId,
    tagger: z.object({ date: timestamp.nullable() }).nullable(),
    target: peeledObject(PEEL_DEPTH - 1),
  }),
]);
export type TagTarget = z.infer<typeof tagTargetSchema>;

/** A tag whose chain of tag objects is longer than the query peeled: `innerOid` is where to go on. */
type Unpeeled = { fact: TagFact; innerOid: string };

/**
 * The TagFact for a ref named `name` pointing at `target`; `unpeeled` when the chain of tag
 * objects goes deeper than the query read (finish it with `peelDeepTags`).
 */
export function toTagFact(name: string, target: TagTarget): { fact: TagFact; unpeeled?: Unpeeled } {
  if (target.__typename === 'Commit') return { fact: { name, refSha: target.oid, gitSha: target.oid, taggedAt: target.committedDate } };
  if (target.__typename !== 'Tag') return { fact: { name, refSha: target.oid, gitSha: null, taggedAt: null } };
  const taggerDate = target.tagger?.date ?? null;
  const end = peelEnd(target.target);
  const fact: TagFact = { name, refSha: target.oid, gitSha: end.commit?.oid ?? null, taggedAt: taggerDate ?? end.commit?.committedDate ?? null };
  return end.innerOid === undefined ? { fact } : { fact, unpeeled: { fact, innerOid: end.innerOid } };
}

function peelEnd(object: PeeledObject): { commit?: { oid: string; committedDate: Date }; innerOid?: string } {
  let current: PeeledObject = object;
  while (current.__typename === 'Tag') {
    if (current.target === undefined) return { innerOid: current.oid };
    current = current.target;
  }
  return current.__typename === 'Commit' ? { commit: current } : {};
}

const deepPeelResponse = (count: number) =>
  z.object({
    repository: z.object(Object.fromEntries(Array.from({ length: count }, (_, index) => [`o${index}`, peeledObject(PEEL_DEPTH).nullable()]))),
  });

/**
 * Finishes the facts of tags whose tag-object chain the listing query could not peel, in place.
 * One query per 100 such tags and PEEL_DEPTH further levels; real repositories almost never
 * need one (git/git's deepest chain is two tag objects).
 */
export async function peelDeepTags(client: GitHubClient, repository: RepositoryRef, pending: readonly Unpeeled[]): Promise<void> {
  let queue = [...pending];
  // A cycle of tag objects cannot exist in git (ids are hashes of content); the bound is a guard.
  for (let round = 0; queue.length > 0 && round < 50; round += 1) {
    const next: Unpeeled[] = [];
    for (let start = 0; start < queue.length; start += 100) {
      const batch = queue.slice(start, start + 100);
      const variables: Record<string, unknown> = { owner: repository.owner, name: repository.repo };
      const fields = batch.map((item, index) => {
        variables[`oid${index}`] = item.innerOid;
        return `o${index}: object(oid: $oid${index}) { ...DeepPeel }`;
      });
      const declarations = batch.map((_, index) => `$oid${index}: GitObjectID!`).join(', ');
      const query = `query DeepPeel($owner: String!, $name: String!, ${declarations}) {
  repository(owner: $owner, name: $name) { ${fields.join('\n')} }
}
${DEEP_PEEL_FRAGMENT}`;
      const data = await client.graphql('graphql DeepPeel', query, variables, deepPeelResponse(batch.length));
      batch.forEach((item, index) => {
        const object = data.repository[`o${index}`] as PeeledObject | null | undefined;
        if (object === null || object === undefined) return;
        const end = peelEnd(object);
        item.fact.gitSha = end.commit?.oid ?? null;
        item.fact.taggedAt ??= end.commit?.committedDate ?? null;
        if (end.innerOid !== undefined) next.push({ fact: item.fact, innerOid: end.innerOid });
      });
    }
    queue = next;
  }
}
