import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
/** The CLI as `npm run build` compiles it and the Procfile runs it. */
export const BUILT_CLI = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

/**
 * Defaults for processes a test starts: a sync schedule that does not fire during a test run (once
 * a year), no first syncs at start, and a GitHub base URL nothing listens on, so a worker started
 * with the example products never reaches out to api.github.com. Tests that exercise GitHub pass
 * their own values.
 */
export const QUIET_GITHUB = { SYNC_SCHEDULE: '0 0 1 1 *', SYNC_ON_START: 'false', GITHUB_API_URL: 'http://127.0.0.1:9' } as const;

export type ProcessResult = { code: number | null; stdout: string; stderr: string };

/** Runs the real CLI (`node src/cli.ts ...`) to completion with the given environment. */
export function runCli(args: string[], env: Record<string, string | undefined>, timeoutMs = 60_000, cli = CLI): Promise<ProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...QUIET_GITHUB, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`release-registry ${args.join(' ')} timed out\n${stdout}\n${stderr}`));
    }, timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
