import type { Router, RouterContext } from '@koa/router';
import { z } from 'zod';
import { InvalidInputError, issuesFromZod } from '../src/errors.ts';

// Every route of the API is declared once, as a spec: its parameters, query and body are zod schemas
// that both validate the request and describe it in the OpenAPI document (api/openapi.ts), and its
// responses name the zod schemas that shape the answers. Nothing about a route is written twice.

export type Auth = 'none' | 'optional' | 'required';

export type ResponseSpec = {
  description: string;
  /** JSON body schema (registered schemas become $refs), or a text body when contentType says so. */
  schema?: z.ZodType;
  contentType?: 'application/json' | 'text/plain';
  /** Response headers worth documenting (ETag, Link, …). */
  headers?: readonly string[];
};

export type RouteSpec = {
  method: 'get' | 'post';
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: readonly string[];
  auth: Auth;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: { schema: z.ZodType; required: boolean; contentType: string; description?: string };
  responses: Record<number, ResponseSpec>;
};

export type ParsedInput<S extends RouteSpec> = {
  params: S['params'] extends z.ZodObject ? z.output<S['params']> : Record<string, never>;
  query: S['query'] extends z.ZodObject ? z.output<S['query']> : Record<string, never>;
};

/** The specs of the routes registered so far, for the OpenAPI document. */
export class RouteCatalog {
  readonly specs: RouteSpec[] = [];

  /** Registers `handler` on `router` for `spec`, after parsing the path parameters and query. */
  add<S extends RouteSpec>(router: Router, spec: S, handler: (ctx: RouterContext, input: ParsedInput<S>) => Promise<void>): void {
    this.specs.push(spec);
    router[spec.method](spec.path, async (ctx) => {
      const params = spec.params === undefined ? {} : parseInput(spec.params, ctx.params, 'path parameter');
      const query = spec.query === undefined ? {} : parseInput(spec.query, ctx.query, 'query parameter');
      await handler(ctx, { params, query } as ParsedInput<S>);
    });
  }
}

/** Parses request input with `schema`; a failure is a 400 whose message names the parameter. */
export function parseInput<T extends z.ZodType>(schema: T, input: unknown, location: string): z.output<T> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = issuesFromZod(result.error.issues);
  const first = result.error.issues[0]!;
  let message: string;
  if (first.code === 'unrecognized_keys') {
    message = `unknown ${location}${first.keys.length > 1 ? 's' : ''}: ${first.keys.join(', ')}`;
  } else if (first.path.length === 0) {
    message = first.message;
  } else {
    message = `${location} "${first.path.map(String).join('.')}": ${first.message}`;
  }
  throw new InvalidInputError(message, issues);
}
