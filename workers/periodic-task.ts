import cron from 'node-cron';
import type { Logger } from '../src/logger.ts';

// A worker's housekeeping on a node-cron schedule: one run at a time, a failed run logged (the next
// one does what it did not), and a stop that waits for the run under way, so that none outlives
// the pool it uses.

export type PeriodicTask = { stop: () => Promise<void> };

/** A housekeeping task as its module hands it out: one run on demand (tests, `now` given), and stop. */
export type Housekeeping = { run: (now?: Date) => Promise<number>; stop: () => Promise<void> };

export function startPeriodicTask(options: { name: string; schedule: string; logger: Logger; failure: string; run: () => Promise<unknown> }): PeriodicTask {
  let running: Promise<unknown> | undefined;
  const task = cron.schedule(
    options.schedule,
    async () => {
      running = options.run().catch((error: unknown) => options.logger.warn({ err: error }, options.failure));
      await running;
    },
    { name: options.name, noOverlap: true },
  );
  return {
    stop: async () => {
      await task.destroy();
      await running;
    },
  };
}
