import { z } from 'zod';
import { GitHubMalformedResponseError, issuesFromZod } from '../errors.ts';
import type { GitHubClient } from './client.ts';
import type { RepositoryIdentity, RepositoryRef } from './repository-ref.ts';

// A repository's identity over REST. A renamed or transferred repository answers its old name
// with a 301 to /repositories/{id}/…, which fetch follows: the answer names it as it is now.

const repositorySchema = z.object({
  id: z.number().int().positive(),
  full_name: z.string().regex(/^[^/]+\/[^/]+$/),
  default_branch: z.string().optional(),
  private: z.boolean().optional(),
});

export type RepositoryInfo = RepositoryIdentity & { defaultBranch: string | null; private: boolean | null };

export async function fetchRepository(client: GitHubClient, repository: RepositoryRef): Promise<RepositoryInfo> {
  const endpoint = 'GET /repos/{owner}/{repo}';
  const response = await client.octokit.request('GET /repos/{owner}/{repo}', { owner: repository.owner, repo: repository.repo });
  const parsed = repositorySchema.safeParse(response.data);
  if (!parsed.success) throw new GitHubMalformedResponseError(endpoint, issuesFromZod(parsed.error.issues));
  return {
    databaseId: parsed.data.id,
    nameWithOwner: parsed.data.full_name,
    defaultBranch: parsed.data.default_branch ?? null,
    private: parsed.data.private ?? null,
  };
}
