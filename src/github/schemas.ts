import { z } from 'zod';
import type { GithubReleaseFact } from '../db/releases.ts';
import { REPOSITORY_NAME_PATTERN } from './repository-ref.ts';

// Schemas that more than one GitHub response shares.

/**
 * A date with an offset, as GitHub's REST timestamps, GraphQL DateTime (UTC) and GitTimestamp (the
 * author's offset: "2005-11-11T23:58:18-08:00") all carry one.
 */
export const timestamp = z.iso.datetime({ offset: true }).transform((value) => new Date(value));

/** A git object id (SHA-1). */
export const objectId = z.string().regex(/^[0-9a-f]{40}$/, 'expected a 40-character hex object id');

/** GraphQL `repository { databaseId nameWithOwner }`. */
export const repositoryIdentitySchema = z.object({
  databaseId: z.number().int(),
  nameWithOwner: z.string().regex(REPOSITORY_NAME_PATTERN, 'expected "owner/name"'),
});

// A release reads the same over REST and GraphQL under different names; its fields are checked
// once, here, whichever API answered.
const release = {
  id: z.number().int().positive(),
  tagName: z.string().min(1),
  // GitHub gives a release without a title `""` (or null): both are "no title".
  name: z
    .string()
    .nullable()
    .transform((name) => (name === null || name.trim() === '' ? null : name)),
  draft: z.boolean(),
  prerelease: z.boolean(),
  createdAt: timestamp.nullable(),
  publishedAt: timestamp.nullable(),
  htmlUrl: z.string().nullable(),
} satisfies Record<keyof GithubReleaseFact, z.ZodType>;

/** One item of GET /repos/{owner}/{repo}/releases (test/fixtures/rest/release-items.json), as a fact. */
export const restReleaseSchema = z
  .object({
    id: release.id,
    tag_name: release.tagName,
    name: release.name,
    draft: release.draft,
    prerelease: release.prerelease,
    created_at: release.createdAt,
    published_at: release.publishedAt,
    html_url: release.htmlUrl,
  })
  .transform(
    (item): GithubReleaseFact => ({
      id: item.id,
      tagName: item.tag_name,
      name: item.name,
      draft: item.draft,
      prerelease: item.prerelease,
      createdAt: item.created_at,
      publishedAt: item.published_at,
      htmlUrl: item.html_url,
    }),
  );

/** The selection of a GraphQL Release that `graphqlReleaseSchema` reads. */
export const GRAPHQL_RELEASE_FIELDS = 'databaseId tagName name isDraft isPrerelease createdAt publishedAt url';

/** A GraphQL Release (GRAPHQL_RELEASE_FIELDS), as a fact. */
export const graphqlReleaseSchema = z
  .object({
    databaseId: release.id,
    tagName: release.tagName,
    name: release.name,
    isDraft: release.draft,
    isPrerelease: release.prerelease,
    createdAt: release.createdAt,
    publishedAt: release.publishedAt,
    url: release.htmlUrl,
  })
  .transform(
    (item): GithubReleaseFact => ({
      id: item.databaseId,
      tagName: item.tagName,
      name: item.name,
      draft: item.isDraft,
      prerelease: item.isPrerelease,
      createdAt: item.createdAt,
      publishedAt: item.publishedAt,
      htmlUrl: item.url,
    }),
  );
