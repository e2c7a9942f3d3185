import { InvalidInputError } from '../errors.ts';

/** A GitHub repository by name, in the parameter names Octokit's REST routes use. */
export type RepositoryRef = { owner: string; repo: string };

/** What GitHub says a repository is now: its id survives renames and transfers, its name does not. */
export type RepositoryIdentity = { databaseId: number; nameWithOwner: string };

/** "owner/name": the products file's `repository`, GraphQL's `nameWithOwner`. */
export const REPOSITORY_NAME_PATTERN = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/;

/** "owner/name" (as in the products file) to a RepositoryRef. */
export function parseRepositoryName(fullName: string): RepositoryRef {
  const match = REPOSITORY_NAME_PATTERN.exec(fullName);
  if (match === null) throw new InvalidInputError(`expected a repository as "owner/name", got ${JSON.stringify(fullName)}`);
  return { owner: match[1]!, repo: match[2]! };
}
