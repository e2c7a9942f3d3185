import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT } from './paths.ts';

// What this process runs: the package version and, when known, the commit. An image carries the
// commit in GIT_SHA (the Dockerfile's build argument: the image has no .git); a checkout asks git.

export type BuildInfo = { name: string; version: string; gitSha: string | null; node: string };

const packageJson = z.object({ name: z.string(), version: z.string() });

// Read once per process (git is not asked on every request).
const cache = new Map<string | undefined, BuildInfo>();

/** `gitShaFromEnv` is the GIT_SHA variable (config), which wins over the checkout. */
export function buildInfo(gitShaFromEnv?: string): BuildInfo {
  let info = cache.get(gitShaFromEnv);
  if (info === undefined) {
    const { name, version } = packageJson.parse(JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')));
    info = { name, version, gitSha: gitShaFromEnv?.toLowerCase() ?? gitShaOfCheckout(), node: process.version };
    cache.set(gitShaFromEnv, info);
  }
  return info;
}

function gitShaOfCheckout(): string | null {
  // `.git` is a directory in a clone and a file in a worktree; neither exists in an image.
  if (!existsSync(join(PROJECT_ROOT, '.git'))) return null;
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 2_000, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return /^[0-9a-f]{40}$/.test(sha) ? sha : null;
  } catch {
    return null;
  }
}
