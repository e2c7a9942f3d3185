import { sql } from 'slonik';
import { z } from 'zod';
import { isoText, isoTimestamp } from './iso-timestamp.ts';
import type { Queryable } from './pool.ts';
import { DELIVERY_STATUSES, type DeliveryStatus } from './webhook-deliveries.ts';

// Stored webhook deliveries as the admin API lists them: newest first, keyset-paged on
// (received_at, delivery_id); failed ones through webhook_deliveries_failed_idx. Payloads and
// headers stay out of the listing (they can be megabytes).

export const deliveryViewSchema = z.object({
  delivery_id: z.string().describe('X-GitHub-Delivery'),
  event: z.string().describe('X-GitHub-Event'),
  action: z.string().nullable(),
  repository_id: z.number().int().nullable(),
  repository_full_name: z.string().nullable(),
  products: z.array(z.string()).describe('The products the delivery was matched to'),
  status: z.enum(DELIVERY_STATUSES),
  error: z.string().nullable().describe('Why processing failed'),
  ignored_reason: z.string().nullable(),
  attempts: z.number().int(),
  job_id: z.string().nullable(),
  received_at: isoTimestamp,
  processed_at: isoTimestamp.nullable(),
  updated_at: isoTimestamp,
});
export type DeliveryView = z.infer<typeof deliveryViewSchema>;

/** received_at in microseconds since the epoch: exact, unlike the millisecond text answered. */
const deliveryRowSchema = deliveryViewSchema.extend({ received_at_us: z.string() });

export type DeliveryPosition = { receivedAtUs: string; deliveryId: string };

export async function listDeliveries(
  db: Queryable,
  options: { status: DeliveryStatus; limit: number; after?: DeliveryPosition | undefined },
): Promise<Array<{ view: DeliveryView; position: DeliveryPosition }>> {
  const after =
    options.after === undefined
      ? sql.fragment`true`
      : sql.fragment`(d.received_at, d.delivery_id) < ('epoch'::timestamptz + ${options.after.receivedAtUs}::bigint * interval '1 microsecond', ${options.after.deliveryId})`;
  const rows = await db.any(sql.type(deliveryRowSchema)`
    SELECT d.delivery_id, d.event, d.action, d.repository_id, d.repository_full_name,
           ARRAY(SELECT p.name FROM products p WHERE p.id = ANY(d.product_ids) ORDER BY p.name COLLATE "C") AS products,
           d.status, d.error, d.ignored_reason, d.attempts, d.job_id::text AS job_id,
           ${isoText(sql.fragment`d.received_at`)} AS received_at,
           ${isoText(sql.fragment`d.processed_at`)} AS processed_at,
           ${isoText(sql.fragment`d.updated_at`)} AS updated_at,
           ((extract(epoch FROM d.received_at) * 1000000)::bigint)::text AS received_at_us
    FROM webhook_deliveries d
    WHERE d.status = ${options.status} AND ${after}
    ORDER BY d.received_at DESC, d.delivery_id DESC
    LIMIT ${options.limit}`);
  return rows.map(({ received_at_us: receivedAtUs, ...view }) => ({ view, position: { receivedAtUs, deliveryId: view.delivery_id } }));
}
