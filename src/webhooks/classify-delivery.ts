import type { z } from 'zod';
import { InvalidInputError, issuesFromZod, PermanentPayloadError } from '../errors.ts';
import { envelopeSchema, pushEventSchema, refEventSchema, releaseEventSchema, RELEASE_ACTIONS, repositorySchema } from './payload-schemas.ts';

// Which deliveries this service acts on, and what each one says changed. A delivery never carries
// the new state we store: it names the tags that changed, and the worker reads their current state
// from GitHub (see README.md), so that order, duplicates and replays do not matter.

/** The tags a delivery says changed. */
export type DeliveryChanges = { tags: string[] };

export type DeliveryClass = { kind: 'ping' } | { kind: 'ignored'; reason: string } | { kind: 'handled'; changes: DeliveryChanges };

/** What every delivery is stored with: its action and its repository (GitHub's id and owner/name). */
export type DeliveryEnvelope = { action: string | null; repository: { id: number; fullName: string } | null };

export type ClassifiedDelivery = DeliveryClass & { envelope: DeliveryEnvelope };

const TAG_REF_PREFIX = 'refs/tags/';
const HANDLED_RELEASE_ACTIONS: ReadonlySet<string> = new Set(RELEASE_ACTIONS);

/** Why a delivery is stored without being processed, or null when the worker is to process it. */
export function ignoredReasonOf(classified: ClassifiedDelivery): string | null {
  if (classified.kind === 'ping') return 'ping';
  if (classified.kind === 'ignored') return classified.reason;
  return classified.envelope.repository === null ? 'the payload names no repository' : null;
}

/**
 * A stored delivery classified again (the worker, `replay`): its payload text is parsed here, and
 * one that does not parse or classify can never be processed.
 */
export function classifyStoredDelivery(delivery: { event: string; payload: string }): ClassifiedDelivery | PermanentPayloadError {
  try {
    return classifyDelivery(delivery.event, JSON.parse(delivery.payload));
  } catch (error) {
    return new PermanentPayloadError(`the stored payload cannot be processed: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * Classifies a delivery by its X-GitHub-Event and parsed JSON body: with its event's schema when the
 * event is handled (a release's envelope first, for its action), else with the envelope's. A payload without what we
 * read (a handled event's fields, or a malformed action or repository) is an InvalidInputError
 * (the intake answers 400 and stores nothing).
 */
export function classifyDelivery(event: string, payload: unknown): ClassifiedDelivery {
  switch (event) {
    case 'release': {
      // The action decides whether the release schema applies: an action we do not handle must not
      // need the fields only handled actions are read for.
      const head = parse(envelopeSchema, payload, event);
      if (head.action !== undefined && !HANDLED_RELEASE_ACTIONS.has(head.action)) {
        return { kind: 'ignored', reason: `release action "${head.action}" is not handled`, envelope: envelopeOf(head) };
      }
      const release = parse(releaseEventSchema, payload, event);
      const tags = [release.release.tag_name];
      const previousTag = release.changes?.tag_name?.from;
      if (previousTag !== undefined && previousTag !== release.release.tag_name) tags.push(previousTag);
      return { kind: 'handled', changes: { tags }, envelope: envelopeOf(release) };
    }
    case 'create':
    case 'delete': {
      const ref = parse(refEventSchema, payload, event);
      if (ref.ref_type !== 'tag') return { kind: 'ignored', reason: `${event} of a ${ref.ref_type} is not handled`, envelope: envelopeOf(ref) };
      return { kind: 'handled', changes: { tags: [stripTagPrefix(ref.ref)] }, envelope: envelopeOf(ref) };
    }
    case 'push': {
      const push = parse(pushEventSchema, payload, event);
      if (!push.ref.startsWith(TAG_REF_PREFIX)) return { kind: 'ignored', reason: `push to ${push.ref} is not a tag push`, envelope: envelopeOf(push) };
      return { kind: 'handled', changes: { tags: [push.ref.slice(TAG_REF_PREFIX.length)] }, envelope: envelopeOf(push) };
    }
    case 'ping':
      return { kind: 'ping', envelope: envelope(payload, event) };
    default:
      return { kind: 'ignored', reason: `event "${event}" is not handled`, envelope: envelope(payload, event) };
  }
}

// `create` and `delete` name the short ref, but be lenient with a fully qualified one.
function stripTagPrefix(ref: string): string {
  return ref.startsWith(TAG_REF_PREFIX) ? ref.slice(TAG_REF_PREFIX.length) : ref;
}

function envelope(payload: unknown, event: string): DeliveryEnvelope {
  return envelopeOf(parse(envelopeSchema, payload, event));
}

function envelopeOf(parsed: { action?: string | undefined; repository?: z.infer<typeof repositorySchema> | undefined }): DeliveryEnvelope {
  return {
    action: parsed.action ?? null,
    repository: parsed.repository === undefined ? null : { id: parsed.repository.id, fullName: parsed.repository.full_name },
  };
}

function parse<T extends z.ZodType>(schema: T, payload: unknown, event: string): z.infer<T> {
  const result = schema.safeParse(payload);
  if (!result.success) {
    throw new InvalidInputError(`the ${event} payload does not have the expected shape`, issuesFromZod(result.error.issues));
  }
  return result.data;
}
