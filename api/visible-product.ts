import { findProductByName, type Product } from '../src/db/products.ts';
import type { Queryable } from '../src/db/pool.ts';
import type { Visibility } from '../src/db/release-reads.ts';
import { NotFoundError } from '../src/errors.ts';
import type { Reader } from './auth.ts';
import type { ResponseCache } from './response-cache.ts';

/** Anonymous readers see public things only; token holders see everything tracked. */
export function visibilityOf(reader: Reader): Visibility {
  return reader === 'token' ? 'all' : 'public';
}

/**
 * The tracked product `name` if `reader` may see it. A product that is not public answers the same
 * 404 as one that does not exist, so its existence does not leak. Lookups are kept in the response
 * cache when there is one (a change to the product drops them), which saves a query per read.
 */
export async function visibleProduct(db: Queryable, name: string, reader: Reader, cache?: ResponseCache): Promise<Product> {
  let product = cache?.getProduct(name) ?? null;
  if (product === null) {
    const generation = cache?.generation ?? 0;
    product = await findProductByName(db, name);
    if (product !== null) cache?.setProduct(product, generation);
  }
  if (product === null || (!product.public && reader !== 'token')) {
    throw new NotFoundError('product', `product "${name}" not found`);
  }
  return product;
}
