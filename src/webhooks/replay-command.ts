import { z } from 'zod';
import { parseCommandArgs } from '../cli-args.ts';
import type { Config } from '../config.ts';
import { requireDatabaseUrl } from '../config.ts';
import { createDatabasePool } from '../db/pool.ts';
import { listFailedDeliveryIds } from '../db/webhook-deliveries.ts';
import { issuesFromZod, UsageError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { deliveryIdSchema } from './delivery-id.ts';
import { replayDeliveries } from './replay-deliveries.ts';

export const REPLAY_USAGE = 'replay <delivery-id>... | replay --failed';
const USAGE = `release-registry ${REPLAY_USAGE}`;

/**
 * `release-registry replay <delivery-id>...` or `replay --failed`: prints one line per delivery and
 * returns the exit code, 1 when an id names no stored delivery (a bad command line throws a
 * UsageError: exit 2).
 */
export async function runReplayCommand(
  config: Config,
  logger: Logger,
  args: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    { args, allowPositionals: true, strict: true, options: { failed: { type: 'boolean', default: false } } },
    USAGE,
  );
  if (values.failed === positionals.length > 0) throw new UsageError('name delivery ids or --failed, not both nor neither', USAGE);
  const ids = z.array(deliveryIdSchema).safeParse(positionals);
  if (!ids.success) {
    const malformed = ids.error.issues.map((issue) => positionals[Number(issue.path[0])]).join(', ');
    throw new UsageError(`not a GitHub delivery id: ${malformed}`, USAGE, issuesFromZod(ids.error.issues));
  }
  const databaseUrl = requireDatabaseUrl(config);
  const db = await createDatabasePool(databaseUrl, { logger, maximumPoolSize: 2, applicationName: 'release-registry-replay' });
  try {
    const deliveryIds = values.failed ? await listFailedDeliveryIds(db) : ids.data;
    if (deliveryIds.length === 0) out.write('no failed deliveries\n');
    let code = 0;
    for (const result of await replayDeliveries(db, deliveryIds)) {
      if (result.status === 'not_found') {
        err.write(`release-registry replay: no stored delivery has the id ${result.deliveryId}\n`);
        code = 1;
      } else {
        out.write(
          result.status === 'queued'
            ? `${result.deliveryId} queued for ${result.products.join(', ')}\n`
            : `${result.deliveryId} ignored: ${result.reason}\n`,
        );
      }
    }
    return code;
  } finally {
    await db.end();
  }
}

