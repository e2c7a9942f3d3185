import { z } from 'zod';
import { REPOSITORY_NAME_PATTERN } from '../github/repository-ref.ts';

// The parts of GitHub's webhook payloads this service reads, parsed once where a delivery enters
// (api/routes/webhooks.ts) and again, from the stored copy, by the worker. Only the fields we use
// are declared; GitHub adds fields freely, and unknown keys are kept in the stored payload. Each
// delivery is parsed by one of these schemas (src/webhooks/classify-delivery.ts): its event's when
// the event is handled (each carries the envelope's fields too), else the envelope.
// Shapes: https://docs.github.com/en/webhooks/webhook-events-and-payloads (the examples are in
// test/fixtures/webhooks/).

const githubId = z.number().int().positive();

export const repositorySchema = z.object({
  id: githubId,
  full_name: z.string().regex(REPOSITORY_NAME_PATTERN, 'expected owner/name'),
});

const action = z.string().max(100);

/** What every delivery may carry: the repository (absent for organization-level hooks) and an action. */
export const envelopeSchema = z.object({
  action: action.optional(),
  repository: repositorySchema.optional(),
});

export const RELEASE_ACTIONS = ['published', 'created', 'edited', 'prereleased', 'released', 'unpublished', 'deleted'] as const;

export const releaseEventSchema = z.object({
  action: z.enum(RELEASE_ACTIONS),
  release: z.object({ tag_name: z.string().min(1) }),
  // An edit that renamed the release's tag says so; the old tag loses the release.
  changes: z
    .object({ tag_name: z.object({ from: z.string().min(1) }).optional() })
    .nullish(),
  repository: repositorySchema,
});

/** `create` and `delete`: `ref` is the short name (`v1.2.3`, not `refs/tags/v1.2.3`). */
export const refEventSchema = z.object({
  action: action.optional(),
  ref: z.string().min(1),
  ref_type: z.string().min(1),
  repository: repositorySchema,
});

/**
 * `push`: `ref` is fully qualified. Whether the tag was created, moved or deleted is not read from
 * the payload: the worker asks GitHub for the tag's state.
 */
export const pushEventSchema = z.object({
  action: action.optional(),
  ref: z.string().min(1),
  repository: repositorySchema,
});
