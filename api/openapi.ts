import type { Router } from '@koa/router';
import { z } from 'zod';
import type { RouteSpec } from './route-spec.ts';
import { componentSchemas, errorSchema, healthSchema, readinessSchema, versionInfoSchema } from './schemas.ts';

// The OpenAPI 3.1 document of the API, generated from the route specs (api/route-spec.ts) and the
// zod schemas they name: request parameters as the schemas parse them (io: input), answers as the
// schemas shape them (io: output). Routes registered outside the catalog (health, the webhook
// intake) are described below and included when the router serves them.

type JsonSchema = Record<string, unknown>;

const COMPONENTS_PREFIX = '#/components/schemas/';

const CACHE_HEADERS: Record<string, { description: string; schema: JsonSchema }> = {
  ETag: { description: 'Strong validator of the body; send it back as If-None-Match to get 304', schema: { type: 'string' } },
  'Cache-Control': { description: '`public, max-age=60` without a token, `private` with one', schema: { type: 'string' } },
  Link: { description: 'GitHub-style `<url>; rel="next"` naming the next page, when there is one', schema: { type: 'string' } },
};

/** Routes the catalog does not register itself. */
export const EXTERNAL_ROUTES: RouteSpec[] = [
  {
    method: 'get',
    path: '/-/healthz',
    operationId: 'health',
    summary: 'Liveness, with a database check',
    tags: ['operations'],
    auth: 'none',
    responses: {
      200: { description: 'Healthy', schema: healthSchema },
      503: { description: 'The database is out of reach', schema: healthSchema },
    },
  },
  {
    method: 'get',
    path: '/-/readyz',
    operationId: 'readiness',
    summary: 'Readiness: serving and the database reachable',
    tags: ['operations'],
    auth: 'none',
    responses: {
      200: { description: 'Ready', schema: readinessSchema },
      503: { description: 'Starting, stopping, or the database is out of reach', schema: readinessSchema },
    },
  },
  {
    method: 'get',
    path: '/-/version',
    operationId: 'version',
    summary: 'The running version',
    tags: ['operations'],
    auth: 'none',
    responses: { 200: { description: 'Package version, commit and Node.js version', schema: versionInfoSchema } },
  },
  {
    method: 'get',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics',
    tags: ['operations'],
    auth: 'none',
    responses: { 200: { description: 'The Prometheus text exposition format', schema: z.string(), contentType: 'text/plain' } },
  },
  {
    method: 'get',
    path: '/openapi.json',
    operationId: 'openApiDocument',
    summary: 'This document',
    tags: ['operations'],
    auth: 'none',
    responses: { 200: { description: 'The OpenAPI 3.1 document', schema: z.looseObject({ openapi: z.string() }) } },
  },
  {
    method: 'post',
    path: '/webhooks/github',
    operationId: 'receiveGithubWebhook',
    summary: 'GitHub webhook intake',
    description:
      'Verifies X-Hub-Signature-256 with GITHUB_WEBHOOK_SECRET, stores the delivery and enqueues its processing before answering. Accepts application/json and application/x-www-form-urlencoded (`payload=`).',
    tags: ['webhooks'],
    auth: 'none',
    body: { schema: z.looseObject({}), required: true, contentType: 'application/json', description: 'The event payload as GitHub sends it' },
    responses: {
      200: { description: 'Stored (or a repeated delivery, or a ping)', schema: z.looseObject({}) },
      202: { description: 'Recorded as ignored (an untracked repository or an event not handled)', schema: z.looseObject({}) },
      400: { description: 'Missing X-GitHub-Event or X-GitHub-Delivery, or an unparseable body', schema: errorSchema },
      401: { description: 'Missing or wrong signature', schema: errorSchema },
      413: { description: 'Body larger than 25 MB', schema: errorSchema },
      503: { description: 'Webhooks are disabled (GITHUB_WEBHOOK_SECRET is not set)', schema: errorSchema },
    },
  },
];

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

export function buildOpenApiDocument(specs: readonly RouteSpec[], router: Router, info: { version: string }): JsonSchema {
  const served = new Set(servedRoutes(router).map((route) => `${route.method} ${route.path}`));
  const described = [...specs, ...EXTERNAL_ROUTES].filter((spec) => served.has(`${spec.method} ${spec.path}`));
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const spec of described) {
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
