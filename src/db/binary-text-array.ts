// A PostgreSQL text[] in the binary format of array_recv, for a query parameter: node-postgres sends
// a Buffer parameter in binary format, and PostgreSQL reads it as the type the statement casts the
// parameter to (`$1::text[]`). The text format would have every element quoted and every `"` and
// `\` in it escaped (a JSON document is full of them) and PostgreSQL would parse that again; here
// each element's bytes are copied once, behind its length. PostgreSQL still checks they are valid
// in the database encoding.
// Format (src/backend/utils/adt/arrayfuncs.c, array_recv): int32 dimensions (1), int32 flags (0: no
// NULL), int32 element type oid, then per dimension int32 length and int32 lower bound (1), then per
// element int32 byte length and the bytes. Big-endian.

const TEXT_OID = 25;
const HEADER_BYTES = 20;

/** The elements (UTF-8 bytes) as one binary text[] parameter. */
export function binaryTextArray(elements: readonly Buffer[]): Buffer {
  let size = HEADER_BYTES;
  for (const element of elements) size += 4 + element.length;
  const buffer = Buffer.allocUnsafe(size);
  buffer.writeInt32BE(1, 0);
  buffer.writeInt32BE(0, 4);
  buffer.writeInt32BE(TEXT_OID, 8);
  buffer.writeInt32BE(elements.length, 12);
  buffer.writeInt32BE(1, 16);
  let offset = HEADER_BYTES;
  for (const element of elements) {
    offset = buffer.writeInt32BE(element.length, offset);
    offset += element.copy(buffer, offset);
  }
  return buffer;
}
