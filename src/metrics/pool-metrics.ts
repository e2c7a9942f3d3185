import { onScrape, poolConnections, poolMaxConnections, poolWaiting } from './metrics.ts';

/** A pool's size and use at one moment. */
export type PoolCounts = { max: number; inUse: number; idle: number; pending: number; waiting: number };

type TrackedPool = { name: string; read: () => PoolCounts | null };
const tracked = new Set<TrackedPool>();

/**
 * Exports a database pool's counts under `pool="<name>"` at every scrape, until the returned
 * function is called (when the pool ends). Pools that share a name are summed.
 */
export function trackPool(name: string, read: () => PoolCounts | null): () => void {
  const entry = { name, read };
  tracked.add(entry);
  return () => {
    tracked.delete(entry);
  };
}

onScrape(() => {
  const totals = new Map<string, PoolCounts>();
  for (const { name, read } of tracked) {
    const counts = read();
    if (counts === null) continue;
    const total = totals.get(name) ?? { max: 0, inUse: 0, idle: 0, pending: 0, waiting: 0 };
    totals.set(name, {
      max: total.max + counts.max,
      inUse: total.inUse + counts.inUse,
      idle: total.idle + counts.idle,
      pending: total.pending + counts.pending,
      waiting: total.waiting + counts.waiting,
    });
  }
  poolConnections.reset();
  poolWaiting.reset();
  poolMaxConnections.reset();
  for (const [pool, counts] of totals) {
    poolConnections.set({ pool, state: 'in_use' }, counts.inUse);
    poolConnections.set({ pool, state: 'idle' }, counts.idle);
    poolConnections.set({ pool, state: 'pending' }, counts.pending);
    poolWaiting.set({ pool }, counts.waiting);
    poolMaxConnections.set({ pool }, counts.max);
  }
});
