import type { z } from 'zod';
import { InvalidInputError, issuesFromZod } from '../errors.ts';
import { pushEventSchema, refEventSchema, releaseEventSchema } from './payload-schemas.ts';

// Which deliveries this service acts on, and what each one says changed. A delivery never carries
// the new state we store: it names the tags and releases that changed, and the worker reads their
// current state from GitHub (see README.md), so that order, duplicates and replays do not matter.

/** A GitHub release named by a delivery. */
export type ReleaseRef = { id: number; nodeId: string | null; tagName: string };

/** The tags and releases a delivery says changed. */
export type DeliveryChanges = { tags: string[]; releases: ReleaseRef[] };

export type DeliveryClass =
  | { kind: 'ping' }
  | { kind: 'ignored'; reason: string }
  | { kind: 'handled'; changes: DeliveryChanges };

const TAG_REF_PREFIX = 'refs/tags/';

/**
 * Classifies a delivery by its X-GitHub-Event and parsed JSON body. A handled event whose payload
 * lacks what we read is an InvalidInputError (the intake answers 400 and stores nothing).
 */
export function classifyDelivery(event: string, payload: unknown): DeliveryClass {
  switch (event) {
    case 'ping':
      return { kind: 'ping' };
    case 'release': {
      const action = (payload as { action?: unknown }).action;
      if (typeof action === 'string' && !releaseActionHandled(action)) {
        return { kind: 'ignored', reason: `release action "${action}" is not handled` };
      }
      const release = parse(releaseEventSchema, payload, event);
      const tags = [release.release.tag_name];
      const previousTag = release.changes?.tag_name?.from;
      if (previousTag !== undefined && previousTag !== release.release.tag_name) tags.push(previousTag);
      return {
        kind: 'handled',
        changes: { tags, releases: [{ id: release.release.id, nodeId: release.release.node_id ?? null, tagName: release.release.tag_name }] },
      };
    }
    case 'create':
    case 'delete': {
      const ref = parse(refEventSchema, payload, event);
      if (ref.ref_type !== 'tag') return { kind: 'ignored', reason: `${event} of a ${ref.ref_type} is not handled` };
      return { kind: 'handled', changes: { tags: [stripTagPrefix(ref.ref)], releases: [] } };
    }
    case 'push': {
      const push = parse(pushEventSchema, payload, event);
      if (!push.ref.startsWith(TAG_REF_PREFIX)) return { kind: 'ignored', reason: `push to ${push.ref} is not a tag push` };
      return { kind: 'handled', changes: { tags: [push.ref.slice(TAG_REF_PREFIX.length)], releases: [] } };
    }
    default:
      return { kind: 'ignored', reason: `event "${event}" is not handled` };
  }
}

function releaseActionHandled(action: string): boolean {
  return (releaseEventSchema.shape.action.options as readonly string[]).includes(action);
}

// `create` and `delete` name the short ref, but be lenient with a fully qualified one.
function stripTagPrefix(ref: string): string {
  return ref.startsWith(TAG_REF_PREFIX) ? ref.slice(TAG_REF_PREFIX.length) : ref;
}

function parse<T extends z.ZodType>(schema: T, payload: unknown, event: string): z.infer<T> {
  const result = schema.safeParse(payload);
  if (!result.success) {
    throw new InvalidInputError(`the ${event} payload does not have the expected shape`, issuesFromZod(result.error.issues));
  }
  return result.data;
}
