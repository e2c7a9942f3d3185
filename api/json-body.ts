import type { Context } from 'koa';
import getRawBody from 'raw-body';
import type { z } from 'zod';
import { InvalidInputError, PayloadTooLargeError, UnsupportedMediaTypeError } from '../src/errors.ts';
import { parseInput } from './route-spec.ts';

// Small JSON request bodies (admin calls). An empty body is `{}`; anything else must be JSON.

const LIMIT_BYTES = 16 * 1024;

export async function readJsonBody<T extends z.ZodType>(ctx: Context, schema: T): Promise<z.output<T>> {
  let text: string;
  try {
    text = await getRawBody(ctx.req, { length: ctx.get('Content-Length') || null, limit: LIMIT_BYTES, encoding: 'utf-8' });
  } catch (error) {
    if ((error as { type?: string }).type === 'entity.too.large') throw new PayloadTooLargeError(LIMIT_BYTES);
    throw new InvalidInputError('the request body could not be read', [], { cause: error });
  }
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
