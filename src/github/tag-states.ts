import { z } from 'zod';
import type { GithubReleaseFact, TagFact } from '../db/releases.ts';
import { GitHubMalformedResponseError, issuesFromZod } from '../errors.ts';
import type { GitHubClient } from './client.ts';
import type { RepositoryIdentity, RepositoryRef } from './repository-ref.ts';
import { GRAPHQL_RELEASE_FIELDS, graphqlReleaseSchema, repositoryIdentitySchema } from './schemas.ts';
import { peelDeepTags, TAG_TARGET_FRAGMENT, tagTargetSchema, toTagFact } from './tag-target.ts';

// The current truth about a few named tags, for webhook ingestion: a delivery only says which tags
// to look at; reading their state now (not trusting the payload's order) makes any order of
// events converge to GitHub's final state. One GraphQL query per 100 names, each name asked
// twice through aliases: `ref(qualifiedName: "refs/tags/<name>")` and `release(tagName: <name>)`.
//
// `release(tagName:)`: GitHub's schema says only "Lookup a single release given various criteria"
// and returns a nullable Release, so at most one release per tag and nothing promised about drafts.
// In practice it finds drafts too (unlike REST GET /releases/tags/{tag}, documented as "Get a
// published release" and answering 404 for a draft). Which release it returns when several name
// one tag (a published one and drafts) is not documented, so `releases` lists what GitHub
// returned, not necessarily every release of the tag; a draft's tag need not exist yet.

export const TAG_STATES_BATCH = 100;

export type TagState = {
  name: string;
  /** The tag as it is now; null when the repository has no such tag. */
  tag: TagFact | null;
  /** The release GitHub returns for this tag name (none, or one; drafts included). */
  releases: GithubReleaseFact[];
};

export type TagStates = {
  repository: RepositoryIdentity;
  /** One entry per distinct name, in the order asked. */
  states: TagState[];
};

const refSchema = z.object({ name: z.string(), target: tagTargetSchema });

/** The state now of each of `tagNames` (duplicates asked once). */
export async function fetchTagStates(client: GitHubClient, repository: RepositoryRef, tagNames: readonly string[]): Promise<TagStates> {
  const names = [...new Set(tagNames)];
  const states: TagState[] = [];
  let identity: RepositoryIdentity | undefined;
  // Even no names asks once: the caller still learns the repository's id and current name.
  for (let start = 0; start === 0 || start < names.length; start += TAG_STATES_BATCH) {
    const batch = names.slice(start, start + TAG_STATES_BATCH);
    const result = await fetchBatch(client, repository, batch);
    identity = result.repository;
    states.push(...result.states);
  }
  return { repository: identity!, states };
}

async function fetchBatch(client: GitHubClient, repository: RepositoryRef, names: readonly string[]): Promise<TagStates> {
  const endpoint = 'graphql TagStates';
  const variables: Record<string, unknown> = { owner: repository.owner, name: repository.repo };
  const declarations: string[] = [];
  const fields: string[] = [];
  names.forEach((name, index) => {
    // Names travel as variables, never spliced into the query: a tag name may hold any character
    // git allows, quotes included.
    variables[`ref${index}`] = `refs/tags/${name}`;
    variables[`tag${index}`] = name;
    declarations.push(`$ref${index}: String!`, `$tag${index}: String!`);
    fields.push(`t${index}: ref(qualifiedName: $ref${index}) { name target { ...TagTarget } }`);
    fields.push(`r${index}: release(tagName: $tag${index}) { ${GRAPHQL_RELEASE_FIELDS} }`);
  });
  // `rateLimit { cost }` is read by the client's accounting (costOf in client.ts).
  const query = `query TagStates($owner: String!, $name: String!${declarations.map((item) => `, ${item}`).join('')}) {
  rateLimit { cost }
  repository(owner: $owner, name: $name) {
    databaseId
    nameWithOwner
    ${fields.join('\n    ')}
  }
}
${TAG_TARGET_FRAGMENT}`;
  const schema = z.object({
    repository: repositoryIdentitySchema.catchall(z.unknown()),
  });
  const data = await client.graphql(endpoint, query, variables, schema);

  const unpeeled: Parameters<typeof peelDeepTags>[2][number][] = [];
  const states = names.map((name, index): TagState => {
    const rawRef = data.repository[`t${index}`];
    const rawRelease = data.repository[`r${index}`];
    let tag: TagFact | null = null;
    if (rawRef !== null && rawRef !== undefined) {
      const parsed = refSchema.safeParse(rawRef);
      if (parsed.success) {
        const result = toTagFact(name, parsed.data.target);
        tag = result.fact;
        if (result.unpeeled !== undefined) unpeeled.push(result.unpeeled);
      } else {
        // Not knowing is not "deleted": the caller must not tombstone on a dropped item.
        throw malformed(endpoint, `repository.t${index}`, parsed.error.issues);
      }
    }
    const releases: GithubReleaseFact[] = [];
    if (rawRelease !== null && rawRelease !== undefined) {
      const parsed = graphqlReleaseSchema.safeParse(rawRelease);
      if (!parsed.success) throw malformed(endpoint, `repository.r${index}`, parsed.error.issues);
      releases.push(parsed.data);
    }
    return { name, tag, releases };
  });
  if (unpeeled.length > 0) await peelDeepTags(client, repository, unpeeled);
  return { repository: { databaseId: data.repository.databaseId, nameWithOwner: data.repository.nameWithOwner }, states };
}

function malformed(endpoint: string, path: string, issues: Parameters<typeof issuesFromZod>[0]): GitHubMalformedResponseError {
  const located = issuesFromZod(issues).map((issue) => ({ ...issue, path: issue.path === '' ? path : `${path}.${issue.path}` }));
  return new GitHubMalformedResponseError(endpoint, located);
}
