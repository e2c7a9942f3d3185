import { sql, type FragmentSqlToken } from 'slonik';
import { z } from 'zod';

// Read answers carry timestamps as RFC 3339 text in UTC with milliseconds, the form
// Date.prototype.toISOString writes. Formatting them in SQL lets a row be the API object itself,
// parsed by one schema, without a Date round trip per field.

/** `expression` (a timestamptz) as RFC 3339 text, or NULL. */
export function isoText(expression: FragmentSqlToken): FragmentSqlToken {
  return sql.fragment`to_char((${expression}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
}

/** The schema of such a value. */
export const isoTimestamp = z.iso.datetime({ precision: 3 });
