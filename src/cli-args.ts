import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError, type InputIssue } from './errors.ts';

// Shared by the commands that take arguments (sync, replay, redrive), so that each reports a bad
// command line the same way: one line, then the usage, exit 2.

/** node:util's parseArgs, its errors as UsageError. */
export function parseCommandArgs<T extends ParseArgsConfig>(config: T, usage: string): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    // Node appends advice on `--` to an unknown option: keep the first sentence, the line is enough.
    const message = (error as Error).message.split(/\.\s/)[0]!.replace(/^Unknown option/, 'unknown option');
    throw new UsageError(message, usage, [], { cause: error });
  }
}

/**
 * Zod issues as one line: an option's issue under its flag (`--timeout: ...`) with the value given,
 * since zod's own paths are the schema's field names, not what the user typed.
 */
export function describeArgumentIssues(issues: readonly InputIssue[], given: Readonly<Record<string, { flag?: string; value: unknown }>>): string {
  const lines = issues.map((issue) => {
    const field = given[issue.path];
    const value = field?.value === undefined ? '' : ` (got ${JSON.stringify(field.value)})`;
    return `${field?.flag === undefined ? '' : `${field.flag}: `}${issue.message}${value}`;
  });
  return [...new Set(lines)].join('; ');
}
