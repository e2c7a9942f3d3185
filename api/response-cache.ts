// Serialized answers of hot reads (latest, first pages, products), kept in memory and dropped when
// the database says the data under them changed (src/db/change-listener.ts). Correctness rules:
// - while the listener is not connected nothing is served or stored (a change could go unseen);
// - an answer computed while a change arrived is not stored: its query may have read the data
//   from before that change, and the notification that would drop it has already gone by.
// Entries also expire after `ttlMs`, a bound on staleness should a notification ever go missing.

/** A product id, or 'all' for answers that span every product. */
export type CacheTag = number | 'all';

export type CachedAnswer = {
  body: Buffer;
  etag: string;
  contentType: string;
  /** Path and query of the next page, if any (the origin is added per request). */
  nextPath?: string | undefined;
};

type Entry = CachedAnswer & { tags: readonly CacheTag[]; expiresAt: number };

export type ResponseCacheOptions = { maxEntries?: number; ttlMs?: number };

export class ResponseCache {
  readonly maxEntries: number;
  readonly ttlMs: number;
  readonly stats = { hits: 0, misses: 0, stores: 0, skippedStores: 0, invalidations: 0, clears: 0 };
  #entries = new Map<string, Entry>();
  #generation = 0;
  #enabled = false;

  constructor(options: ResponseCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 2_000;
    this.ttlMs = options.ttlMs ?? 300_000;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Changes whenever anything is invalidated: pass the value read before computing to `set`. */
  get generation(): number {
    return this.#generation;
  }

  get(key: string): CachedAnswer | undefined {
    if (!this.#enabled) return undefined;
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.expiresAt <= Date.now()) {
      if (entry !== undefined) this.#entries.delete(key);
      this.stats.misses += 1;
      return undefined;
    }
    this.stats.hits += 1;
    return entry;
  }

  /** Stores `answer` unless the cache is off or something changed since `generation` was read. */
  set(key: string, answer: CachedAnswer, tags: readonly CacheTag[], generation: number): boolean {
    if (!this.#enabled || generation !== this.#generation) {
      this.stats.skippedStores += 1;
      return false;
    }
    this.#entries.delete(key);
    this.#entries.set(key, { ...answer, tags, expiresAt: Date.now() + this.ttlMs });
    this.stats.stores += 1;
    // Map iteration order is insertion order: the first key is the oldest entry.
    while (this.#entries.size > this.maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return true;
  }

  /** A write of `productId` committed: its answers and every cross-product answer go. */
  invalidate(productId: number | null): void {
    this.#generation += 1;
    this.stats.invalidations += 1;
    if (productId === null) {
      this.#entries.clear();
      return;
    }
    for (const [key, entry] of this.#entries) {
      if (entry.tags.includes('all') || entry.tags.includes(productId)) this.#entries.delete(key);
    }
  }

  /** Drops everything (a reconnect: notifications may have been missed). */
  clear(): void {
    this.#generation += 1;
    this.stats.clears += 1;
    this.#entries.clear();
  }

  /** On while changes are being listened to; off drops everything. */
  setEnabled(enabled: boolean): void {
    this.clear();
    this.#enabled = enabled;
  }
}
