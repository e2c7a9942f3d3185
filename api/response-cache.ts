import type { Product } from '../src/db/products.ts';

// Serialized answers of hot reads (latest, list pages, products), and the product lookups every
// read starts with, kept in memory and dropped when the database says the data under them changed
// (src/db/change-listener.ts). Correctness rules:
// - while the listener is not connected nothing is served or stored (a change could go unseen);
// - a value computed while a change arrived is not stored: its query may have read the data from
//   before that change, and the notification that would drop it has already gone by.
// Entries also expire after `ttlMs`, a bound on staleness should a notification ever go missing,
// and the oldest go first when the entries or their bytes exceed the limits.

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

export type ResponseCacheOptions = { maxEntries?: number; maxBytes?: number; ttlMs?: number };

export class ResponseCache {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly ttlMs: number;
  readonly stats = { hits: 0, misses: 0, stores: 0, skippedStores: 0, invalidations: 0, clears: 0 };
  #entries = new Map<string, Entry>();
  #bytes = 0;
  #products = new Map<string, { product: Product; expiresAt: number }>();
  #generation = 0;
  #enabled = false;

  constructor(options: ResponseCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? 2_000;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.ttlMs = options.ttlMs ?? 300_000;
  }

  get enabled(): boolean {
    return this.#enabled;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Changes whenever anything is invalidated: pass the value read before computing to `set`. */
  get generation(): number {
    return this.#generation;
  }

  get(key: string): CachedAnswer | undefined {
    if (!this.#enabled) return undefined;
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.expiresAt <= Date.now()) {
      if (entry !== undefined) this.#delete(key, entry);
      this.stats.misses += 1;
      return undefined;
    }
    this.stats.hits += 1;
    return entry;
  }

  /** Stores `answer` unless the cache is off or something changed since `generation` was read. */
  set(key: string, answer: CachedAnswer, tags: readonly CacheTag[], generation: number): boolean {
    if (!this.#enabled || generation !== this.#generation || answer.body.length > this.maxBytes) {
      this.stats.skippedStores += 1;
      return false;
    }
    const previous = this.#entries.get(key);
    if (previous !== undefined) this.#delete(key, previous);
    this.#entries.set(key, { ...answer, tags, expiresAt: Date.now() + this.ttlMs });
    this.#bytes += answer.body.length;
    this.stats.stores += 1;
    // Map iteration order is insertion order: the first entry is the oldest.
    while (this.#entries.size > this.maxEntries || this.#bytes > this.maxBytes) {
      const [oldestKey, oldest] = this.#entries.entries().next().value!;
      this.#delete(oldestKey, oldest);
    }
    return true;
  }

  /** A tracked product by name, as last looked up (see `setProduct`). */
  getProduct(name: string): Product | undefined {
    if (!this.#enabled) return undefined;
    const cached = this.#products.get(name);
    if (cached === undefined || cached.expiresAt <= Date.now()) return undefined;
    return cached.product;
  }

  /** Keeps a product lookup, under the same rules as answers; a notification of it drops it. */
  setProduct(product: Product, generation: number): void {
    if (!this.#enabled || generation !== this.#generation) return;
    if (this.#products.size >= this.maxEntries) this.#products.clear();
    this.#products.set(product.name, { product, expiresAt: Date.now() + this.ttlMs });
  }

  /** A write of `productId` committed: its answers and every cross-product answer go. */
  invalidate(productId: number | null): void {
    this.#generation += 1;
    this.stats.invalidations += 1;
    if (productId === null) {
      this.#clearEntries();
      return;
    }
    for (const [key, entry] of this.#entries) {
      if (entry.tags.includes('all') || entry.tags.includes(productId)) this.#delete(key, entry);
    }
    for (const [name, cached] of this.#products) {
      if (cached.product.id === productId) this.#products.delete(name);
    }
  }

  /** Drops everything (a reconnect: notifications may have been missed). */
  clear(): void {
    this.#generation += 1;
    this.stats.clears += 1;
    this.#clearEntries();
  }

  /** On while changes are being listened to; off drops everything. */
  setEnabled(enabled: boolean): void {
    this.clear();
    this.#enabled = enabled;
  }

  #delete(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.body.length;
  }

  #clearEntries(): void {
    this.#entries.clear();
    this.#products.clear();
    this.#bytes = 0;
  }
}
