import type { Router } from '@koa/router';
import { z } from 'zod';
import type { RouteSpec } from './route-spec.ts';
import { componentSchemas } from './schemas.ts';

// The OpenAPI 3.1 document of the API, generated from the route specs (api/route-spec.ts) and the
// zod schemas they name: request parameters as the schemas parse them (io: input), answers as the
// schemas shape them (io: output).

type JsonSchema = Record<string, unknown>;

const COMPONENTS_PREFIX = '#/components/schemas/';

const CACHE_HEADERS: Record<string, { description: string; schema: JsonSchema }> = {
  ETag: { description: 'Strong validator of the body; send it back as If-None-Match to get 304', schema: { type: 'string' } },
  'Cache-Control': {
    description: '`public, max-age=60` without a token, `private` with one; the events feed, which changes at any commit, `public, no-cache` and `private, no-cache`',
    schema: { type: 'string' },
  },
  Link: { description: 'GitHub-style `<url>; rel="next"` naming the next page, when there is one', schema: { type: 'string' } },
};

/** A zod schema as JSON Schema, with named schemas as references to components/schemas. */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const converted = z.toJSONSchema(schema, { metadata: componentSchemas, io, unrepresentable: 'any' }) as JsonSchema;
  delete converted.$schema;
  delete converted.$defs;
  return JSON.parse(JSON.stringify(converted).replaceAll('"#/$defs/', `"${COMPONENTS_PREFIX}`)) as JsonSchema;
}

function parameters(schema: z.ZodObject | undefined, location: 'path' | 'query'): JsonSchema[] {
  if (schema === undefined) return [];
  const whole = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as { required?: string[] };
  return Object.entries(schema.shape).map(([name, field]) => {
    const fieldSchema = jsonSchema(field as z.ZodType, 'input');
    const { description, ...rest } = fieldSchema;
    return {
      name,
      in: location,
      required: location === 'path' || (whole.required ?? []).includes(name),
      ...(typeof description === 'string' ? { description } : {}),
      schema: rest,
    };
  });
}

function operation(spec: RouteSpec): JsonSchema {
  const responses: Record<string, JsonSchema> = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    const contentType = response.contentType ?? 'application/json';
    responses[status] = {
      description: response.description,
      ...(response.schema === undefined ? {} : { content: { [contentType]: { schema: jsonSchema(response.schema, 'output') } } }),
      ...(response.headers === undefined
        ? {}
        : { headers: Object.fromEntries(response.headers.map((name) => [name, CACHE_HEADERS[name] ?? { schema: { type: 'string' } }])) }),
    };
  }
  if (spec.auth !== 'none' && responses[401] === undefined) {
    responses[401] = { description: 'The bearer token is not valid', content: { 'application/json': { schema: { $ref: `${COMPONENTS_PREFIX}Error` } } } };
  }
  const security = spec.auth === 'required' ? [{ bearerAuth: [] }] : spec.auth === 'optional' ? [{}, { bearerAuth: [] }] : [];
  return {
    operationId: spec.operationId,
    summary: spec.summary,
    ...(spec.description === undefined ? {} : { description: spec.description }),
    tags: [...spec.tags],
    parameters: [...parameters(spec.params, 'path'), ...parameters(spec.query, 'query')],
    ...(spec.body === undefined
      ? {}
      : {
          requestBody: {
            required: spec.body.required,
            ...(spec.body.description === undefined ? {} : { description: spec.body.description }),
            content: { [spec.body.contentType]: { schema: jsonSchema(spec.body.schema, 'input') } },
          },
        }),
    responses,
    security,
  };
}

/** `/v1/releases/:product` -> `/v1/releases/{product}` */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
}

/** The (method, path) pairs the router serves, HEAD aside (Koa answers it for every GET). */
export function servedRoutes(router: Router): Array<{ method: string; path: string }> {
  const routes: Array<{ method: string; path: string }> = [];
  for (const layer of router.stack) {
    if (typeof layer.path !== 'string') continue;
    for (const method of layer.methods) {
      if (method !== 'HEAD') routes.push({ method: method.toLowerCase(), path: layer.path });
    }
  }
  return routes;
}

export function buildOpenApiDocument(specs: readonly RouteSpec[], info: { version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const spec of specs) {
    (paths[openApiPath(spec.path)] ??= {})[spec.method] = operation(spec);
  }
  const { schemas } = z.toJSONSchema(componentSchemas, { uri: (id) => `${COMPONENTS_PREFIX}${id}`, unrepresentable: 'any' });
  const components = Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _schema, $id: _id, ...rest } = schema as JsonSchema;
      return [id, rest];
    }),
  );
  return {
    openapi: '3.1.0',
    info: {
      title: 'release-registry',
      version: info.version,
      description:
        'An always-current, queryable record of every release of products that live on GitHub. The `/v1/releases` endpoints are compatible with the Release Registry v1 contract; see README.md (API reference) for the decisions behind the shapes.',
    },
    tags: [
      { name: 'releases', description: 'One object per version, newest first by SemVer precedence' },
      { name: 'products', description: 'The tracked products' },
      { name: 'events', description: 'The change log as a feed' },
      { name: 'admin', description: 'Operations that need an API token' },
      { name: 'operations', description: 'Health, readiness, version, metrics and this document' },
      { name: 'webhooks', description: 'GitHub webhook intake' },
    ],
    paths,
    components: {
      schemas: components,
      securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', description: 'A token from API_TOKENS' } },
    },
  };
}
