import { InvalidInputError } from '../errors.ts';

/** A GitHub repository by name, in the parameter names Octokit's REST routes use. */
export type RepositoryRef = { owner: string; repo: string };

/** What GitHub says a repository is now: its id survives renames and transfers, its name does not. */
export type RepositoryIdentity = { databaseId: number; nameWithOwner: string };

const NAME = /^[A-Za-z0-9_.-]+$/;

/** "owner/name" (as in the products file) to a RepositoryRef. */
export function parseRepositoryName(fullName: string): RepositoryRef {
  const [owner, repo, ...rest] = fullName.split('/');
  if (owner === undefined || repo === undefined || rest.length > 0 || !NAME.test(owner) || !NAME.test(repo)) {
    throw new InvalidInputError(`expected a repository as "owner/name", got ${JSON.stringify(fullName)}`);
  }
  return { owner, repo };
}
