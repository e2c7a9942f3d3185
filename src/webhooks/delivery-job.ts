import { z } from 'zod';
import { deliveryIdSchema } from './delivery-id.ts';

// The data of a process-delivery job: the deliveries it is responsible for. The worker's enqueuer
// gives the deliveries stored `queued` without a job (by the intake, or again by `replay`) jobs of
// up to 100 (enqueue-stored-deliveries.ts; a job insert costs the database about as much as a
// delivery row, so one per delivery would double the cost); a rate-limit deferral gives one per
// reset. Each delivery row names its job (`job_id`): a job works only the deliveries that still
// name it, so a delivery replayed or deferred meanwhile is left to its new job (see
// workers/process-deliveries.ts).

export type DeliveryJobData = { deliveryIds: string[] };

const deliveryId = deliveryIdSchema;

/** Parses a job's data at the edge of the worker (anything may have enqueued it). */
export const deliveryJobDataSchema = z.union([
  z.object({ deliveryIds: z.array(deliveryId).min(1) }),
  // Jobs enqueued before deliveries were batched named one delivery each.
  z.object({ deliveryId }).transform(({ deliveryId: id }): DeliveryJobData => ({ deliveryIds: [id] })),
]);

export function deliveryJobData(deliveryIds: readonly string[]): DeliveryJobData {
  return { deliveryIds: [...deliveryIds] };
}
