import { findProductByName, type Product } from '../src/db/products.ts';
import type { Queryable } from '../src/db/pool.ts';
import type { Visibility } from '../src/db/release-reads.ts';
import { NotFoundError } from '../src/errors.ts';
import type { Reader } from './auth.ts';

/** Anonymous readers see public things only; token holders see everything tracked. */
export function visibilityOf(reader: Reader): Visibility {
  return reader === 'token' ? 'all' : 'public';
}

/**
 * The tracked product `name` if `reader` may see it. A product that is not public answers the same
 * 404 as one that does not exist, so its existence does not leak.
 */
export async function visibleProduct(db: Queryable, name: string, reader: Reader): Promise<Product> {
  const product = await findProductByName(db, name);
  if (product === null || (!product.public && reader !== 'token')) {
    throw new NotFoundError('product', `product "${name}" not found`);
  }
  return product;
}
