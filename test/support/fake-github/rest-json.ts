import { isoUtc, type FakeRepository, type GitObjectRecord, type ReleaseRecord, type TagRefRecord } from './model.ts';

// REST bodies in the shapes of GitHub's OpenAPI examples (test/fixtures/rest/*.json): the same keys
// in the same order, with URLs on the fake's own origin (`api`) and github.com for web pages.

const WEB = 'https://github.com';

export function nodeId(kind: string, id: string | number): string {
  return Buffer.from(`0${kind.length}:${kind}${id}`).toString('base64');
}

const author = (api: string) => ({
  login: 'release-bot',
  id: 1,
  node_id: nodeId('User', 1),
  avatar_url: `${WEB}/images/error/octocat_happy.gif`,
  gravatar_id: '',
  url: `${api}/users/release-bot`,
  html_url: `${WEB}/release-bot`,
  followers_url: `${api}/users/release-bot/followers`,
  following_url: `${api}/users/release-bot/following{/other_user}`,
  gists_url: `${api}/users/release-bot/gists{/gist_id}`,
  starred_url: `${api}/users/release-bot/starred{/owner}{/repo}`,
  subscriptions_url: `${api}/users/release-bot/subscriptions`,
  organizations_url: `${api}/users/release-bot/orgs`,
  repos_url: `${api}/users/release-bot/repos`,
  events_url: `${api}/users/release-bot/events{/privacy}`,
  received_events_url: `${api}/users/release-bot/received_events`,
  type: 'User',
  site_admin: false,
});

/** The web URL of a release: drafts live under an "untagged-…" name until published. */
export function releaseHtmlUrl(repo: FakeRepository, release: ReleaseRecord): string {
  const tag = release.draft ? `untagged-${release.id.toString(16).padStart(20, '0')}` : encodeURIComponent(release.tagName);
  return `${WEB}/${repo.fullName}/releases/tag/${tag}`;
}

export function releaseJson(api: string, repo: FakeRepository, release: ReleaseRecord) {
  const base = `${api}/repos/${repo.fullName}`;
  const tag = encodeURIComponent(release.tagName);
  return {
    url: `${base}/releases/${release.id}`,
    html_url: releaseHtmlUrl(repo, release),
    assets_url: `${base}/releases/${release.id}/assets`,
    upload_url: `https://uploads.github.com/repos/${repo.fullName}/releases/${release.id}/assets{?name,label}`,
    tarball_url: release.draft ? null : `${base}/tarball/${tag}`,
    zipball_url: release.draft ? null : `${base}/zipball/${tag}`,
    id: release.id,
    node_id: nodeId('Release', release.id),
    tag_name: release.tagName,
    target_commitish: release.targetCommitish,
    name: release.name,
    body: release.body,
    draft: release.draft,
    prerelease: release.prerelease,
    immutable: false,
    created_at: isoUtc(release.createdAt),
    published_at: release.publishedAt === null ? null : isoUtc(release.publishedAt),
    author: author(api),
    assets: [],
  };
}

export function refJson(api: string, repo: FakeRepository, ref: TagRefRecord) {
  const objectPath = ref.type === 'tag' ? 'tags' : ref.type === 'commit' ? 'commits' : `${ref.type}s`;
  return {
    ref: `refs/tags/${ref.name}`,
    node_id: nodeId('Ref', `${repo.id}:refs/tags/${ref.name}`),
    url: `${api}/repos/${repo.fullName}/git/refs/tags/${encodeURIComponent(ref.name)}`,
    object: { sha: ref.sha, type: ref.type, url: `${api}/repos/${repo.fullName}/git/${objectPath}/${ref.sha}` },
  };
}

const unsigned = { verified: false, reason: 'unsigned', signature: null, payload: null, verified_at: null };

export function gitTagJson(api: string, repo: FakeRepository, object: Extract<GitObjectRecord, { kind: 'tag' }>) {
  const targetPath = object.target.type === 'tag' ? 'tags' : object.target.type === 'commit' ? 'commits' : `${object.target.type}s`;
  return {
    node_id: nodeId('Tag', object.sha),
    tag: object.tag,
    sha: object.sha,
    url: `${api}/repos/${repo.fullName}/git/tags/${object.sha}`,
    message: object.message,
    tagger: object.tagger === null ? null : { name: object.tagger.name, email: object.tagger.email, date: isoUtc(new Date(object.tagger.date)) },
    object: { type: object.target.type, sha: object.target.sha, url: `${api}/repos/${repo.fullName}/git/${targetPath}/${object.target.sha}` },
    verification: unsigned,
  };
}

export function gitCommitJson(api: string, repo: FakeRepository, object: Extract<GitObjectRecord, { kind: 'commit' }>) {
  const person = (date: string) => ({ date: isoUtc(new Date(date)), name: 'Release Bot', email: 'release-bot@example.com' });
  return {
    sha: object.sha,
    node_id: nodeId('Commit', object.sha),
    url: `${api}/repos/${repo.fullName}/git/commits/${object.sha}`,
    author: person(object.authoredDate),
    committer: person(object.committedDate),
    message: object.message,
    tree: { url: `${api}/repos/${repo.fullName}/git/trees/${object.tree}`, sha: object.tree },
    parents: object.parents.map((sha) => ({
      url: `${api}/repos/${repo.fullName}/git/commits/${sha}`,
      sha,
      html_url: `${WEB}/${repo.fullName}/commit/${sha}`,
    })),
    verification: unsigned,
    html_url: `${WEB}/${repo.fullName}/commit/${object.sha}`,
  };
}

export function tagItemJson(api: string, repo: FakeRepository, name: string, commitSha: string) {
  return {
    name,
    commit: { sha: commitSha, url: `${api}/repos/${repo.fullName}/commits/${commitSha}` },
    zipball_url: `${api}/repos/${repo.fullName}/zipball/refs/tags/${encodeURIComponent(name)}`,
    tarball_url: `${api}/repos/${repo.fullName}/tarball/refs/tags/${encodeURIComponent(name)}`,
    node_id: nodeId('Ref', `${repo.id}:refs/tags/${name}`),
  };
}

export function repositoryJson(api: string, repo: FakeRepository) {
  return {
    id: repo.id,
    node_id: nodeId('Repository', repo.id),
    name: repo.name,
    full_name: repo.fullName,
    private: false,
    owner: { login: repo.owner, id: 1000 + repo.id, node_id: nodeId('Organization', 1000 + repo.id), type: 'Organization', site_admin: false },
    html_url: `${WEB}/${repo.fullName}`,
    description: null,
    fork: false,
    url: `${api}/repos/${repo.fullName}`,
    tags_url: `${api}/repos/${repo.fullName}/tags`,
    releases_url: `${api}/repos/${repo.fullName}/releases{/id}`,
    git_refs_url: `${api}/repos/${repo.fullName}/git/refs{/sha}`,
    default_branch: 'main',
    visibility: 'public',
    archived: false,
    disabled: false,
  };
}

type Bucket = { limit: number; used: number; reset: number };

export function rateLimitJson(buckets: { core: Bucket; graphql: Bucket }) {
  const view = (bucket: Bucket) => ({ limit: bucket.limit, used: bucket.used, remaining: Math.max(0, bucket.limit - bucket.used), reset: bucket.reset });
  return {
    resources: { core: view(buckets.core), graphql: view(buckets.graphql) },
    rate: view(buckets.core),
  };
}
