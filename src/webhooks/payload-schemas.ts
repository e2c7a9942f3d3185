import { z } from 'zod';

// The parts of GitHub's webhook payloads this service reads, parsed once where a delivery enters
// (api/routes/webhooks.ts) and again, from the stored copy, by the worker. Only the fields we use
// are declared; GitHub adds fields freely, and unknown keys are kept in the stored payload.
// Shapes: https://docs.github.com/en/webhooks/webhook-events-and-payloads (the examples are in
// test/fixtures/webhooks/).

const githubId = z.number().int().positive();

export const repositorySchema = z.object({
  id: githubId,
  full_name: z.string().regex(/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/, 'expected owner/name'),
});

/** What every delivery may carry: the repository (absent for organization-level hooks) and an action. */
export const envelopeSchema = z.object({
  action: z.string().max(100).optional(),
  repository: repositorySchema.optional(),
});

export const RELEASE_ACTIONS = ['published', 'created', 'edited', 'prereleased', 'released', 'unpublished', 'deleted'] as const;

export const releaseEventSchema = z.object({
  action: z.enum(RELEASE_ACTIONS),
  release: z.object({
    id: githubId,
    node_id: z.string().min(1).nullish(),
    tag_name: z.string().min(1),
  }),
  // An edit that renamed the release's tag says so; the old tag loses the release.
  changes: z
    .object({ tag_name: z.object({ from: z.string().min(1) }).optional() })
    .nullish(),
  repository: repositorySchema,
});
export type ReleaseEvent = z.infer<typeof releaseEventSchema>;

/** `create` and `delete`: `ref` is the short name (`v1.2.3`, not `refs/tags/v1.2.3`). */
export const refEventSchema = z.object({
  ref: z.string().min(1),
  ref_type: z.string().min(1),
  repository: repositorySchema,
});
export type RefEvent = z.infer<typeof refEventSchema>;

const sha = z.string().regex(/^[0-9a-f]{40}$/, 'expected a 40-character hex sha');

/** `push`: `ref` is fully qualified; a deleted ref has `after` all zeros. */
export const pushEventSchema = z.object({
  ref: z.string().min(1),
  before: sha,
  after: sha,
  created: z.boolean(),
  deleted: z.boolean(),
  forced: z.boolean(),
  repository: repositorySchema,
});
export type PushEvent = z.infer<typeof pushEventSchema>;
