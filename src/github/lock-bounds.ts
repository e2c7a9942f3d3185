import { AsyncLocalStorage } from 'node:async_hooks';

// Webhook ingestion and the sync read GitHub while holding a product's release-writing lock inside
// an open transaction (src/db/product-locks.ts: the read must follow the lock for writes to commit
// in the order of their reads). Whatever a request waits for there, every other writer of that
// product waits for too, each on a pooled connection with a transaction open. So the client
// (client.ts) bounds requests made under the lock: it waits for no rate limit (the error carries
// the reset; the caller defers its job to it, lock released), and gives all attempts of one
// request, backoffs included, one deadline. Outside the lock its ordinary patience applies.

const lockHeld = new AsyncLocalStorage<true>();

/** Runs `work` (the GitHub reads of a writer holding a product's lock) with bounded GitHub requests. */
export function whileLockHeld<T>(work: () => Promise<T>): Promise<T> {
  return lockHeld.run(true, work);
}

/** Whether the caller holds a product's lock: its GitHub requests must not wait long. */
export function isLockHeld(): boolean {
  return lockHeld.getStore() === true;
}
