import { z } from 'zod';
import { describeArgumentIssues, parseCommandArgs } from './cli-args.ts';
import { issuesFromZod, UsageError } from './errors.ts';
import type { Logger } from './logger.ts';
import { createBoss, QUEUE_DEFINITIONS } from './queues.ts';

// `release-registry redrive <queue> [--dry-run]`: jobs that failed their last retry land in the
// queue's dead-letter queue (its `deadLetter` in src/queues.ts, kept 14 days) and stay there; once
// their cause is fixed an operator moves them back with pg-boss's redrive, which re-enqueues each
// job in the queue it came from. Idempotent: jobs are moved once.

const DEAD_LETTER_QUEUES: ReadonlyMap<string, string> = new Map(
  QUEUE_DEFINITIONS.flatMap((queue) => (queue.deadLetter === undefined ? [] : [[queue.name, queue.deadLetter] as const])),
);
const REDRIVABLE = [...DEAD_LETTER_QUEUES.keys()];
export const REDRIVE_USAGE = `release-registry redrive <${REDRIVABLE.join('|')}> [--dry-run]`;

const argsSchema = z.object({
  queue: z.enum(REDRIVABLE, { error: `expected a queue with a dead-letter queue: ${REDRIVABLE.join(', ')}` }),
  dryRun: z.boolean(),
});

export type RedriveReport = { queue: string; deadLetterQueue: string; moved: number; dryRun: boolean };

export function parseRedriveArgs(args: string[]): z.infer<typeof argsSchema> {
  const parsed = parseCommandArgs({ args, allowPositionals: true, options: { 'dry-run': { type: 'boolean' } } }, REDRIVE_USAGE);
  if (parsed.positionals.length === 0) throw new UsageError(`name the queue: ${REDRIVABLE.join(', ')}`, REDRIVE_USAGE);
  if (parsed.positionals.length > 1) {
    throw new UsageError(`expected one queue, got ${parsed.positionals.length}: ${parsed.positionals.join(' ')}`, REDRIVE_USAGE);
  }
  const result = argsSchema.safeParse({ queue: parsed.positionals[0], dryRun: parsed.values['dry-run'] ?? false });
  if (!result.success) {
    const issues = issuesFromZod(result.error.issues);
    throw new UsageError(describeArgumentIssues(issues, { queue: { value: parsed.positionals[0] } }), REDRIVE_USAGE, issues);
  }
  return result.data;
}

export async function redriveDeadLetters(databaseUrl: string, logger: Logger, options: z.infer<typeof argsSchema>): Promise<RedriveReport> {
  const deadLetterQueue = DEAD_LETTER_QUEUES.get(options.queue);
  if (deadLetterQueue === undefined) throw new UsageError(`no dead-letter queue for ${options.queue}`, REDRIVE_USAGE);
  const boss = createBoss(databaseUrl, { logger, applicationName: 'release-registry-cli-boss', maxConnections: 2 });
  await boss.start();
  try {
    // An explicit destination moves every dead-lettered job of this queue, whatever source it recorded.
    if (options.dryRun) {
      const preview = await boss.previewRedrive(deadLetterQueue, { destination: options.queue, limit: 100_000 });
      const moved = preview.destinations.reduce((sum, destination) => sum + destination.count, 0);
      return { queue: options.queue, deadLetterQueue, moved, dryRun: true };
    }
    let moved = 0;
    // pg-boss moves at most `limit` per call, oldest first; drain the queue as it is now.
    const createdBefore = new Date();
    while (true) {
      const batch = await boss.redrive(deadLetterQueue, { destination: options.queue, createdBefore, limit: 1_000 });
      if (batch === 0) break;
      moved += batch;
    }
    return { queue: options.queue, deadLetterQueue, moved, dryRun: false };
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
}
