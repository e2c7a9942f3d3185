import { z } from 'zod';
import { parseVersionRange } from '../src/domain/version-range.ts';
import { parseVersion } from '../src/domain/version.ts';
import { PRODUCT_NAME_PATTERN } from '../src/products.ts';
import { decodeReleaseCursor } from './cursor.ts';

// The query and path parameters the read API accepts, as zod schemas: they parse the request
// (a bad value is a 400 naming the parameter, see api/route-spec.ts) and, converted to JSON
// Schema, document it in /openapi.json.

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 1000;

/** A query parameter given once (Koa hands repeated parameters over as an array). */
const oneValue = () => z.string({ error: (issue) => (Array.isArray(issue.input) ? 'must be given only once' : 'must be a string') });

const limitMessage = `must be a whole number from 1 to ${MAX_LIMIT}`;

export const limitParam = oneValue()
  .regex(/^\d{1,9}$/, limitMessage)
  .transform(Number)
  .pipe(z.number().min(1, limitMessage).max(MAX_LIMIT, limitMessage))
  .prefault(String(DEFAULT_LIMIT))
  .describe(`Page size, 1 to ${MAX_LIMIT} (default ${DEFAULT_LIMIT})`);

export const booleanParam = (description: string) =>
  z
    .enum(['true', 'false'], { error: 'must be true or false' })
    .transform((value) => value === 'true')
    .optional()
    .describe(description);

const releaseCursor = oneValue().transform((text, ctx) => {
  const cursor = decodeReleaseCursor(text);
  if (cursor === null) {
    ctx.issues.push({ code: 'custom', input: text, message: 'is not a cursor this API issued (take it from the Link header of the previous page)' });
    return z.NEVER;
  }
  return cursor;
});

const cursorDescription = 'Opaque position of the next page, from the `Link: <…>; rel="next"` header of the previous one';

// The list of every product and the list of one product issue different cursors (the first names
// the product it stopped in). Each list takes only its own: a cursor from the other list would
// page from a position in an order it does not describe.

/** A cursor of the list of every product: a position and the product it belongs to. */
export const allReleasesCursorParam = releaseCursor
  .transform(({ product, ...position }, ctx) => {
    if (product === undefined) {
      ctx.issues.push({ code: 'custom', input: position, message: 'belongs to the list of one product, not to the list of every product' });
      return z.NEVER;
    }
    return { ...position, product };
  })
  .optional()
  .describe(cursorDescription);

/** A cursor of the list of one product: a position within that product's versions. */
export const productReleasesCursorParam = releaseCursor
  .transform(({ product, ...position }, ctx) => {
    if (product !== undefined) {
      ctx.issues.push({ code: 'custom', input: product, message: 'belongs to the list of every product, not to the list of one product' });
      return z.NEVER;
    }
    return position;
  })
  .optional()
  .describe(cursorDescription);

/**
 * The most `||` alternatives and comparators a range may have. Each becomes query parameters, and
 * PostgreSQL takes at most 65,535 in a statement: a range far past any real use is refused here
 * rather than failing there.
 */
export const RANGE_LIMITS = { alternatives: 32, comparators: 128 };

export const rangeParam = oneValue()
  .transform((text, ctx) => {
    // `semver` reads an empty range as `*`; an empty `range=` is a client's mistake, not a wish for everything.
    const range = text.trim() === '' ? null : parseVersionRange(text);
    if (range === null) {
      ctx.issues.push({ code: 'custom', input: text, message: `"${text}" is not a valid SemVer range (for example ^5.3, >=5.2 <6, 5.x, ~1.2.3 || >=2)` });
      return z.NEVER;
    }
    const comparators = range.sets.reduce((sum, set) => sum + set.comparisons.length, 0);
    if (range.sets.length > RANGE_LIMITS.alternatives || comparators > RANGE_LIMITS.comparators) {
      ctx.issues.push({
        code: 'custom',
        input: text.length > 100 ? `${text.slice(0, 100)}…` : text,
        message: `the range has ${range.sets.length} alternatives and ${comparators} comparators: at most ${RANGE_LIMITS.alternatives} and ${RANGE_LIMITS.comparators} are taken`,
      });
      return z.NEVER;
    }
    return range;
  })
  .optional()
  .describe('Only versions that satisfy this SemVer range, as `semver.satisfies` decides (prereleases only where the range names a prerelease of the same major.minor.patch)');

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/i;

/** Whether year-month-day names a day of the calendar (Date.UTC rolls 2024-02-30 over to March). */
function isCalendarDay(year: number, month: number, day: number): boolean {
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

/** An RFC 3339 date-time whose every field is in range (Date.parse rolls 2024-02-30 and T24:00 over). */
function parseDateTime(text: string): Date | undefined {
  const match = DATE_TIME.exec(text);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = match.slice(1).map((field) => (field === undefined ? undefined : Number(field)));
  if (!isCalendarDay(year!, month!, day!) || hour! > 23 || minute! > 59 || second > 59 || offsetHours > 23 || offsetMinutes > 59) return undefined;
  const instant = new Date(text);
  return Number.isNaN(instant.getTime()) ? undefined : instant;
}

/**
 * A date (`2024-05-01`, a whole UTC day) or an RFC 3339 date-time. `since` starts at the instant
 * or the day's start; `until` ends before the instant or after the whole day.
 */
export const dateParam = (bound: 'since' | 'until', description: string) =>
  oneValue()
    .transform((text, ctx) => {
      const day = DATE_ONLY.exec(text);
      let instant: Date | undefined;
      if (day !== null) {
        const [year, month, date] = [Number(day[1]), Number(day[2]), Number(day[3])];
        if (isCalendarDay(year, month, date)) {
          const start = new Date(Date.UTC(year, month - 1, date));
          instant = bound === 'since' ? start : new Date(start.getTime() + 86_400_000);
        }
      } else {
        instant = parseDateTime(text);
      }
      if (instant === undefined) {
        ctx.issues.push({ code: 'custom', input: text, message: `"${text}" is not a date (2024-05-01) or an RFC 3339 date-time (2024-05-01T12:00:00Z)` });
        return z.NEVER;
      }
      return instant;
    })
    .optional()
    .describe(description);

/** A version in a path, with or without `v`; build metadata is ignored (it is not part of a version). */
export const versionParam = z
  .string()
  .transform((text, ctx) => {
    const parsed = parseVersion(text.replace(/^v/, ''));
    if (parsed === null) {
      ctx.issues.push({ code: 'custom', input: text, message: `"${text}" is not a SemVer version (for example v1.2.3 or 1.2.3-rc.1)` });
      return z.NEVER;
    }
    return parsed.version;
  })
  .describe('A version, with or without `v` (`v1.2.3`, `1.2.3-rc.1`)');

// Checked before any query: a name no product can have (a NUL byte, which PostgreSQL refuses in
// text, a slash, unicode) is a 400, not a lookup.
export const productParam = z
  .string()
  .regex(PRODUCT_NAME_PATTERN, 'expected a product name: lowercase letters, digits, ".", "_" or "-", 1 to 64 characters')
  .describe('Product name');
