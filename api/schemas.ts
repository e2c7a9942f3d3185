import { z } from 'zod';
import { deliveryViewSchema } from '../src/db/delivery-reads.ts';
import { productViewSchema } from '../src/db/product-reads.ts';
import { eventRowSchema, withdrawnReleaseSchema } from '../src/db/release-events.ts';
import { releaseViewSchema } from '../src/db/release-reads.ts';

// The answer shapes of the API, named for the OpenAPI document (components/schemas). The release,
// product and delivery shapes are the row schemas of the queries that produce them (src/db/), so
// what the database returns, what is served and what is documented are one schema.

// The global registry, where zod also keeps every `.describe()` text: one registry for names and
// descriptions means the converted schemas keep both.
export const componentSchemas = z.globalRegistry;

export const releaseSchema = releaseViewSchema;
export const productSchema = productViewSchema;
export const deliverySchema = deliveryViewSchema;
export const eventSchema = eventRowSchema.omit({ product_id: true, version: true }).extend({
  release: z.union([releaseViewSchema, withdrawnReleaseSchema]),
});

export const errorSchema = z.object({
  error: z.object({
    code: z.string().describe('Stable machine-readable code: invalid_input, not_found, unauthorized, method_not_allowed, …'),
    message: z.string().describe('What is wrong, for people'),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional().describe('Every problem found in the input'),
  }),
});

export const syncAcceptedSchema = z.object({
  job_id: z.string().describe('The pg-boss job id of the sync'),
  product: z.string(),
  mode: z.enum(['full', 'incremental']).nullable().describe('The mode of the job answered (null: the worker decides); a request for another mode while a sync is queued does not change it'),
  already_queued: z.boolean().describe('true when a sync of the product was already queued or running: its job id is answered'),
});

export const syncRequestSchema = z.strictObject({
  mode: z.enum(['full', 'incremental'], { error: 'must be "full" or "incremental"' }).optional().describe('full: list everything; incremental: stop at what is known'),
});

export const healthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  database: z.enum(['ok', 'unavailable']),
  durationMs: z.number(),
});

export const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  lifecycle: z.string(),
  database: z.enum(['ok', 'unavailable', 'unchecked']),
  durationMs: z.number(),
});

export const webhookAnswerSchema = z.object({
  deliveryId: z.string().describe('X-GitHub-Delivery'),
  status: z.enum(['queued', 'ignored', 'duplicate']).describe('queued: stored, to be processed; ignored: stored, not processed; duplicate: stored before'),
  reason: z.string().optional().describe('Why an ignored delivery is not processed'),
});

export const versionInfoSchema = z.object({
  name: z.string(),
  version: z.string(),
  gitSha: z.string().nullable(),
  node: z.string(),
});

componentSchemas.add(releaseSchema, { id: 'Release', description: 'One version of a product, built from its canonical tag' });
componentSchemas.add(productSchema, { id: 'Product' });
componentSchemas.add(withdrawnReleaseSchema, {
  id: 'WithdrawnRelease',
  description: 'What an anonymous reader gets of a version that is not public now: which version, and that it is not public',
});
componentSchemas.add(eventSchema, {
  id: 'ReleaseEvent',
  description:
    'One change to a tag of a release; `release` is the release as it is now, not as it was at the change (for an anonymous reader, a version no longer public is a WithdrawnRelease, and `changes` keeps only `public` and `promoted_at`)',
});
componentSchemas.add(deliverySchema, { id: 'WebhookDelivery' });
componentSchemas.add(errorSchema, { id: 'Error' });
componentSchemas.add(syncAcceptedSchema, { id: 'SyncAccepted' });
componentSchemas.add(syncRequestSchema, { id: 'SyncRequest' });
componentSchemas.add(healthSchema, { id: 'Health' });
componentSchemas.add(readinessSchema, { id: 'Readiness' });
componentSchemas.add(versionInfoSchema, { id: 'VersionInfo' });
componentSchemas.add(webhookAnswerSchema, { id: 'WebhookAnswer' });
