import type { IncomingMessage } from 'node:http';
import getRawBody from 'raw-body';
import { InvalidInputError, PayloadTooLargeError } from '../src/errors.ts';

/**
 * The request body as bytes, at most `limitBytes`. A Content-Length over the limit is refused before
 * a byte is read; a body that streams past it is cut off at the limit (raw-body stops reading).
 */
export async function readRawBody(request: IncomingMessage, limitBytes: number): Promise<Buffer> {
  try {
    return await getRawBody(request, { length: request.headers['content-length'] ?? null, limit: limitBytes });
  } catch (error) {
    const type = (error as { type?: unknown }).type;
    if (type === 'entity.too.large') throw new PayloadTooLargeError(limitBytes);
    if (type === 'request.size.invalid') throw new InvalidInputError('the request body is shorter or longer than its Content-Length', [], { cause: error });
    if (type === 'request.aborted') throw new InvalidInputError('the request was aborted before its body was complete', [], { cause: error });
    throw error;
  }
}
