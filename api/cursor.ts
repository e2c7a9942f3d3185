import { z } from 'zod';
import type { ReleasePosition } from '../src/db/release-reads.ts';
import { PRODUCT_NAME_PATTERN } from '../src/products.ts';

// Page cursors are opaque to clients: base64url of a small JSON object naming where the next page
// starts in the newest-first order (and, across products, in which product). They carry positions,
// not offsets, so the next page is an index range scan however deep it is (src/db/release-reads.ts).

export type ReleaseCursor = ReleasePosition & { product?: string | undefined };

const cursorSchema = z.strictObject({
  p: z.string().regex(PRODUCT_NAME_PATTERN).optional(),
  v: z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative(), z.number().int().nonnegative(), z.string().regex(/^(?:[0-9a-f]{2})+$/)]),
});

export function encodeReleaseCursor(cursor: ReleaseCursor): string {
  const value: z.input<typeof cursorSchema> = {
    ...(cursor.product === undefined ? {} : { p: cursor.product }),
    v: [cursor.major, cursor.minor, cursor.patch, cursor.prereleaseKey.toString('hex')],
  };
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** The position a cursor names, or null when it is not one of ours. */
export function decodeReleaseCursor(text: string): ReleaseCursor | null {
  if (!/^[A-Za-z0-9_-]{1,400}$/.test(text)) return null;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  const parsed = cursorSchema.safeParse(value);
  if (!parsed.success) return null;
  const [major, minor, patch, key] = parsed.data.v;
  return { product: parsed.data.p, major, minor, patch, prereleaseKey: Buffer.from(key, 'hex') };
}
