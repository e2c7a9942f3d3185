import { setTimeout as sleep } from 'node:timers/promises';

// Work that only needs to happen "soon after it was asked for" (a wake-up NOTIFY, a sweep of
// stored deliveries): asked for many times in a burst, it runs once for all of them.

export type CoalescedRuns = {
  /** Asks for a run: at once when idle; while one is under way, one more follows it. */
  request: () => void;
  /** Resolves when no run is under way (nor one asked for meanwhile). */
  idle: () => Promise<void>;
};

/**
 * Runs `run` one at a time: requests made while a run is under way, or within `minIntervalMs`
 * after it, make exactly one more run follow; they never queue up. `run` handles its own errors.
 */
export function coalescedRuns(run: () => Promise<void>, options: { minIntervalMs?: number } = {}): CoalescedRuns {
  let running: Promise<void> | undefined;
  let again = false;
  return {
    request: () => {
      if (running !== undefined) {
        again = true;
        return;
      }
      running = (async () => {
        do {
          again = false;
          await run();
          if (options.minIntervalMs !== undefined) await sleep(options.minIntervalMs);
        } while (again);
      })().finally(() => {
        running = undefined;
      });
    },
    idle: async () => {
      await running;
    },
  };
}
