import type { Context } from 'koa';
import type { z } from 'zod';
import { InvalidInputError, UnsupportedMediaTypeError } from '../src/errors.ts';
import { readRawBody } from './read-raw-body.ts';
import { parseInput } from './route-spec.ts';

// Small JSON request bodies (admin calls). An empty body is `{}`; anything else must be JSON.

const LIMIT_BYTES = 16 * 1024;

export async function readJsonBody<T extends z.ZodType>(ctx: Context, schema: T): Promise<z.output<T>> {
  // TextDecoder drops a leading byte order mark, which JSON.parse would refuse.
  const text = new TextDecoder().decode(await readRawBody(ctx.req, LIMIT_BYTES));
  if (text.trim() === '') return parseInput(schema, {}, 'body field');
  if (!ctx.is('application/json')) throw new UnsupportedMediaTypeError('the request body must be application/json');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(`the request body is not valid JSON: ${(error as Error).message}`, [], { cause: error });
  }
  return parseInput(schema, value, 'body field');
}
