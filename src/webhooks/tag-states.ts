import type { GithubReleaseFact, TagFact } from '../db/releases.ts';

// What webhook ingestion reads from GitHub for the tags a batch of deliveries names: the state of
// each tag now (not the state a payload describes), so that order and duplicates do not matter.
// The shape is what src/github/tag-states.ts `fetchTagStates` answers.

export type TagState = {
  name: string;
  /** The tag as it is now; null when the repository has no such tag. */
  tag: TagFact | null;
  /** The release GitHub returns for this tag name (none, or one; drafts included). */
  releases: GithubReleaseFact[];
};

export type TagStates = {
  /** GitHub's id and current owner/name of the repository. */
  repository: { databaseId: number; nameWithOwner: string };
  /** One entry per distinct name asked. */
  states: TagState[];
};

/** Reads the current state of the named tags of a repository. */
export type TagStateReader = (repository: { owner: string; repo: string }, tagNames: readonly string[]) => Promise<TagStates>;
