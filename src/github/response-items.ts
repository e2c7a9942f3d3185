import type { z } from 'zod';
import { GitHubMalformedResponseError, issuesFromZod } from '../errors.ts';
import type { Logger } from '../logger.ts';

export type ItemParserOptions<T> = {
  logger: Logger;
  endpoint: string;
  schema: z.ZodType<T>;
  /** What an item is, in the log and the error: "release", "tag", "tag ref". */
  noun: string;
  /** Where the items are in the answer, for the error. */
  path?: string;
  /** Logged with a dropped item, besides its index: what identifies it ({ page }, ...). */
  context?: Record<string, unknown>;
  /** Fields of a dropped item worth logging (its id, its name). */
  describe?: (item: unknown) => Record<string, unknown>;
};

/**
 * Parses the items of a listing one by one. An item that does not match is dropped and logged
 * rather than failing the listing: one odd release must not stop every sync of a product. The
 * count of drops tells the caller that the listing is incomplete (so that it does not tombstone
 * what it did not see). When no item at all parses, the answer's shape is what is wrong, and
 * `finish` throws.
 */
export class ItemParser<T> {
  readonly #options: ItemParserOptions<T>;
  #items = 0;
  #kept = 0;
  #dropped = 0;

  constructor(options: ItemParserOptions<T>) {
    this.#options = options;
  }

  /** The parsed item, or undefined when it was dropped. */
  parse(item: unknown): T | undefined {
    const index = this.#items;
    this.#items += 1;
    const { logger, endpoint, schema, noun, context, describe } = this.#options;
    const parsed = schema.safeParse(item);
    if (parsed.success) {
      this.#kept += 1;
      return parsed.data;
    }
    this.#dropped += 1;
    logger.warn({ endpoint, ...context, index, ...describe?.(item), issues: issuesFromZod(parsed.error.issues) }, `dropped a malformed ${noun}`);
    return undefined;
  }

  /** Items dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Throws GitHubMalformedResponseError when there were items and none parsed. */
  finish(): void {
    if (this.#items > 0 && this.#kept === 0) {
      const { endpoint, noun, path } = this.#options;
      throw new GitHubMalformedResponseError(endpoint, [{ path: path ?? '', message: `none of ${this.#items} ${noun}s parsed` }]);
    }
  }
}
