import { DatabaseUnavailableError } from '../errors.ts';
import { observePoolAcquire, recordPoolAcquireTimeout } from '../metrics/metrics.ts';

type Waiter = { resolve: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

/**
 * Admits at most `size` callers to a pool at once and makes the others wait at most `timeoutMs`.
 *
 * Slonik bounds how long *opening* a connection may take (connectionTimeout), but a caller that
 * finds every connection busy waits in its queue with no time limit. When the server stalls
 * (a lock pile-up, a network path that drops packets) every HTTP request would then hang for as long
 * as the stall lasts. With this gate in front of the pool, sized like it, Slonik's queue stays
 * empty and a caller that cannot get a connection in time fails with DatabaseUnavailableError,
 * which the API answers 503 (Retry-After) instead of hanging.
 */
export class ConnectionGate {
  readonly name: string;
  readonly size: number;
  readonly timeoutMs: number;
  #inUse = 0;
  #closed = false;
  readonly #waiters: Waiter[] = [];

  constructor(options: { name: string; size: number; timeoutMs: number }) {
    this.name = options.name;
    this.size = options.size;
    this.timeoutMs = options.timeoutMs;
  }

  /** Callers waiting for a slot now. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Runs `work` holding one slot; the slot is released whatever `work` does. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    await this.#enter();
    try {
      return await work();
    } finally {
      this.#leave();
    }
  }

  /** Refuses every waiting and later caller (the pool is ending). */
  close(): void {
    this.#closed = true;
    for (const waiter of this.#waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(new DatabaseUnavailableError(`the ${this.name} database pool is shutting down`));
    }
  }

  #enter(): Promise<void> {
    if (this.#closed) return Promise.reject(new DatabaseUnavailableError(`the ${this.name} database pool is shutting down`));
    if (this.#inUse < this.size) {
      this.#inUse += 1;
      observePoolAcquire(this.name, 0);
      return Promise.resolve();
    }
    const started = performance.now();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        resolve: () => {
          observePoolAcquire(this.name, (performance.now() - started) / 1000);
          resolve();
        },
        reject,
        timer: setTimeout(() => {
          const index = this.#waiters.indexOf(waiter);
          if (index !== -1) this.#waiters.splice(index, 1);
          recordPoolAcquireTimeout(this.name);
          reject(
            new DatabaseUnavailableError(`no connection of the ${this.name} database pool became free within ${this.timeoutMs} ms`, {
              retryAfterSeconds: 1,
            }),
          );
        }, this.timeoutMs),
      };
      this.#waiters.push(waiter);
    });
  }

  #leave(): void {
    const next = this.#waiters.shift();
    if (next === undefined) {
      this.#inUse -= 1;
      return;
    }
    // The slot passes straight to the next caller, so a burst of new callers cannot overtake it.
    clearTimeout(next.timer);
    next.resolve();
  }
}
