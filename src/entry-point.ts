import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// What src/cli.ts decides before it runs a command. A CLI that silently did nothing would let a
// release step "succeed" without migrating, so neither decision may fail quietly.

/** package.json's engines. */
const MINIMUM_NODE_MAJOR = 24;

/**
 * Whether the module of `meta` is the program Node.js was started with, rather than imported.
 * import.meta.main exists from Node.js 24.2 only; elsewhere it is undefined, and the module is
 * compared with process.argv[1], through symlinks (npm installs the bin as one).
 */
export function isMainModule(meta: { url: string; main?: boolean }, argv1: string | undefined = process.argv[1]): boolean {
  if (typeof meta.main === 'boolean') return meta.main;
  if (argv1 === undefined) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(meta.url));
  } catch {
    return false;
  }
}

/** Why this Node.js cannot run the CLI (`process.versions.node`), or null when it can. */
export function unsupportedNodeVersion(version: string): string | null {
  const major = Number.parseInt(version, 10);
  if (major >= MINIMUM_NODE_MAJOR) return null;
  return `release-registry needs Node.js ${MINIMUM_NODE_MAJOR} or later; this is Node.js ${version}`;
}
