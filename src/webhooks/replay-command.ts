import { parseArgs } from 'node:util';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { requireDatabaseUrl } from '../config.ts';
import { createDatabasePool } from '../db/pool.ts';
import { listFailedDeliveryIds } from '../db/webhook-deliveries.ts';
import { InvalidInputError, issuesFromZod } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { deliveryIdSchema } from './delivery-id.ts';
import { replayDeliveries } from './replay-deliveries.ts';

export const REPLAY_USAGE = 'replay <delivery-id>... | replay --failed';

/**
 * `release-registry replay <delivery-id>...` or `replay --failed`: prints one line per delivery and
 * returns the exit code, 1 when an id names no stored delivery.
 */
export async function runReplayCommand(
  config: Config,
  logger: Logger,
  args: string[],
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    throw new InvalidInputError(`${(error as Error).message}; usage: release-registry ${REPLAY_USAGE}`, [], { cause: error });
  }
  const { values, positionals } = parsed;
  if (values.failed === positionals.length > 0) {
    throw new InvalidInputError(`name delivery ids or --failed, not both nor neither; usage: release-registry ${REPLAY_USAGE}`);
  }
  const ids = z.array(deliveryIdSchema).safeParse(positionals);
  if (!ids.success) {
    const malformed = ids.error.issues.map((issue) => positionals[Number(issue.path[0])]).join(', ');
    throw new InvalidInputError(`not a GitHub delivery id: ${malformed}; usage: release-registry ${REPLAY_USAGE}`, issuesFromZod(ids.error.issues));
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

function parse(args: string[]) {
  return parseArgs({ args, allowPositionals: true, strict: true, options: { failed: { type: 'boolean', default: false } } });
}
