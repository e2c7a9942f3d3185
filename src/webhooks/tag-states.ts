import type { GitHubClient } from '../github/client.ts';
import type { RepositoryRef } from '../github/repository-ref.ts';
import { fetchTagStates, type TagState, type TagStates } from '../github/tag-states.ts';

// What webhook ingestion reads from GitHub for the tags a batch of deliveries names: the state of
// each tag now (not the state a payload describes), so that order and duplicates do not matter.

export type { TagState, TagStates };

/** Reads the current state of the named tags of a repository (the worker's seam for tests). */
export type TagStateReader = (repository: RepositoryRef, tagNames: readonly string[]) => Promise<Pick<TagStates, 'repository' | 'states'>>;

/** The production reader: one GraphQL query per 100 names (src/github/tag-states.ts). */
export function githubTagStateReader(client: GitHubClient): TagStateReader {
  return (repository, tagNames) => fetchTagStates(client, repository, tagNames);
}
