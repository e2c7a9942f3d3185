import { isUtf8 } from 'node:buffer';
import type { Router } from '@koa/router';
import { verify } from '@octokit/webhooks-methods';
import type { Context } from 'koa';
import { z } from 'zod';
import { InvalidInputError, PayloadTooLargeError, ServiceUnavailableError, UnauthorizedError, UnsupportedMediaTypeError } from '../../src/errors.ts';
import { classifyDelivery, ignoredReasonOf } from '../../src/webhooks/classify-delivery.ts';
import { DELIVERY_ID } from '../../src/webhooks/delivery-id.ts';
import { isDatabaseUnavailable } from '../../src/db/unavailable.ts';
import { recordWebhookDelivery, type WebhookDeliveryOutcome } from '../../src/metrics/metrics.ts';
import type { ApiDependencies } from '../dependencies.ts';
import type { RouteCatalog } from '../route-spec.ts';
import { errorSchema, webhookAnswerSchema } from '../schemas.ts';
import { DeliveryCommitter, type CommitOutcome } from '../webhooks/delivery-committer.ts';
import { readRawBody } from '../read-raw-body.ts';

// POST /webhooks/github: verify, store, answer. The intake never writes releases: it stores the
// delivery (see api/webhooks/delivery-committer.ts), and the worker enqueues its processing job and
// does the rest. GitHub does not retry a failed delivery by itself, so whatever we answered 2xx
// must already be durable; whatever we refuse must write nothing.
// https://docs.github.com/en/webhooks/using-webhooks/handling-webhook-deliveries

/** GitHub caps payloads at 25 MB: https://docs.github.com/en/webhooks/webhook-events-and-payloads#payload-cap */
export const WEBHOOK_BODY_LIMIT_BYTES = 25 * 1024 * 1024;

const OVERSIZED_BODY_GRACE_MS = 2_000;

const JSON_TYPE = 'application/json';
const FORM_TYPE = 'application/x-www-form-urlencoded';

// GitHub's event names are snake_case words; anything else is not GitHub.
const EVENT_NAME = /^[a-z][a-z0-9_]{0,63}$/;

type WebhookAnswer = z.infer<typeof webhookAnswerSchema>;

export function registerWebhookRoutes(router: Router, deps: ApiDependencies, catalog: RouteCatalog): void {
  const committer = new DeliveryCommitter({ db: deps.db, logger: deps.logger });

  catalog.add(
    router,
    {
      method: 'post',
      path: '/webhooks/github',
      operationId: 'receiveGithubWebhook',
      summary: 'GitHub webhook intake',
      description:
        'Verifies X-Hub-Signature-256 with GITHUB_WEBHOOK_SECRET and stores the delivery before answering; the worker then processes it. Accepts application/json and application/x-www-form-urlencoded (`payload=`).',
      tags: ['webhooks'],
      auth: 'none',
      body: { schema: z.looseObject({}), required: true, contentType: 'application/json', description: 'The event payload as GitHub sends it' },
      responses: {
        200: {
          description: 'A ping (recorded as ignored), or a delivery id stored before (not processed again, unless it failed or no product matched it and one does now: then 202)',
          schema: webhookAnswerSchema,
        },
        202: { description: 'Stored: queued for processing, or recorded as ignored with the reason (an untracked repository, an event not handled)', schema: webhookAnswerSchema },
        400: { description: 'Missing or malformed X-GitHub-Event or X-GitHub-Delivery, or a body that is empty, not UTF-8 or not a JSON object', schema: errorSchema },
        401: { description: 'Missing or wrong signature', schema: errorSchema },
        413: { description: 'Body larger than 25 MB', schema: errorSchema },
        415: { description: 'A Content-Type other than JSON or form-encoded, or a Content-Encoding', schema: errorSchema },
        503: { description: 'Webhooks are disabled (GITHUB_WEBHOOK_SECRET is not set), or the database is out of reach (nothing stored: redeliver)', schema: errorSchema },
      },
    },
    async (ctx) => {
      try {
        recordWebhookDelivery(await receive(ctx));
      } catch (error) {
        recordWebhookDelivery(deps.config.GITHUB_WEBHOOK_SECRET === undefined ? 'disabled' : outcomeOf(error));
        throw error;
      }
    },
  );

  async function receive(ctx: Context): Promise<WebhookDeliveryOutcome> {
    const receivedAt = new Date();
    const secret = deps.config.GITHUB_WEBHOOK_SECRET;
    if (secret === undefined) {
      throw new ServiceUnavailableError('webhooks are disabled: GITHUB_WEBHOOK_SECRET is not set');
    }
    const mediaType = ctx.request.type;
    if (mediaType !== JSON_TYPE && mediaType !== FORM_TYPE) {
      throw new UnsupportedMediaTypeError(`Content-Type must be ${JSON_TYPE} or ${FORM_TYPE}, got "${mediaType || '(none)'}"`);
    }
    const encoding = ctx.get('Content-Encoding').trim().toLowerCase();
    if (encoding !== '' && encoding !== 'identity') {
      throw new UnsupportedMediaTypeError(`Content-Encoding "${encoding}" is not supported`);
    }
    const signature = ctx.get('X-Hub-Signature-256');
    if (signature === '') throw new UnauthorizedError('the X-Hub-Signature-256 header is missing');

    const raw = await readRawBody(ctx.req, WEBHOOK_BODY_LIMIT_BYTES).catch((error: unknown) => {
      if (error instanceof PayloadTooLargeError) closeAfterAnswer(ctx);
      throw error;
    });
    if (raw.length === 0) throw new InvalidInputError('the request body is empty');
    // The signature is an HMAC over the body's bytes. The library takes a string, and UTF-8 text
    // survives decoding byte for byte, so verifying the decoded text verifies the bytes; a body that
    // is not UTF-8 is refused below even when its decoded form happens to verify.
    const body = raw.toString('utf8');
    if (!(await verify(secret, body, signature))) throw new UnauthorizedError('the X-Hub-Signature-256 signature does not match the body');
    if (!isUtf8(raw)) throw new InvalidInputError('the request body is not valid UTF-8');

    const event = ctx.get('X-GitHub-Event');
    const deliveryId = ctx.get('X-GitHub-Delivery');
    if (!EVENT_NAME.test(event)) throw new InvalidInputError(event === '' ? 'the X-GitHub-Event header is missing' : 'the X-GitHub-Event header is malformed');
    if (!DELIVERY_ID.test(deliveryId)) {
      throw new InvalidInputError(deliveryId === '' ? 'the X-GitHub-Delivery header is missing' : 'the X-GitHub-Delivery header is malformed');
    }

    const payloadText = mediaType === FORM_TYPE ? formPayload(body) : body;
    const classified = classifyDelivery(event, parseJsonObject(payloadText));
    const { action, repository } = classified.envelope;

    const committed = await committer.commit({
      deliveryId,
      event,
      action,
      repositoryId: repository?.id ?? null,
      repositoryFullName: repository?.fullName ?? null,
      hookId: hookId(ctx),
      // The bytes GitHub sent: the body itself, or the form's payload field.
      payload: mediaType === FORM_TYPE ? Buffer.from(payloadText, 'utf8') : raw,
      headers: githubHeaders(ctx),
      receivedAt,
      ignoredReason: ignoredReasonOf(classified),
    });
    const answer = answerOf(deliveryId, committed, classified.kind === 'ping');
    ctx.status = answer.status;
    ctx.body = answer.body;
    return answer.outcome;
  }
}

/** The answer to a delivery once it is committed, and how it counts in the metrics. */
function answerOf(deliveryId: string, committed: CommitOutcome, isPing: boolean): { outcome: WebhookDeliveryOutcome; status: 200 | 202; body: WebhookAnswer } {
  // A redelivery is not processed again.
  if (!committed.stored) return { outcome: 'duplicate', status: 200, body: { deliveryId, status: 'duplicate' } };
  const body: WebhookAnswer =
    committed.status === 'queued' ? { deliveryId, status: 'queued' } : { deliveryId, status: 'ignored', reason: committed.reason };
  // A ping only checks the hook works.
  if (isPing) return { outcome: 'ping', status: 200, body };
  return { outcome: committed.status === 'queued' ? 'accepted' : 'ignored', status: 202, body };
}

function outcomeOf(error: unknown): WebhookDeliveryOutcome {
  if (error instanceof UnauthorizedError) return 'unauthorized';
  if (error instanceof PayloadTooLargeError) return 'too_large';
  if (error instanceof InvalidInputError || error instanceof UnsupportedMediaTypeError) return 'invalid';
  return isDatabaseUnavailable(error) ? 'unavailable' : 'error';
}

/**
 * After a 413, the rest of the body is not worth reading, but closing the socket at once would make
 * the kernel reset the connection while the client is still sending, and the client would never see
 * the answer. So the rest is discarded for a short grace period (time for the client to read the
 * 413 and stop), then the connection is closed.
 */
function closeAfterAnswer(ctx: Context): void {
  ctx.res.once('finish', () => {
    const socket = ctx.req.socket;
    const timer = setTimeout(() => socket.destroy(), OVERSIZED_BODY_GRACE_MS);
    timer.unref();
    ctx.req.once('end', () => clearTimeout(timer));
    ctx.req.resume();
  });
}

function formPayload(body: string): string {
  const payload = new URLSearchParams(body).get('payload');
  if (payload === null || payload === '') throw new InvalidInputError('the form body has no payload field');
  return payload;
}

function parseJsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidInputError(`the payload is not valid JSON: ${(error as Error).message}`, [], { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidInputError('the payload is not a JSON object');
  return value as Record<string, unknown>;
}

function hookId(ctx: Context): number | null {
  const value = ctx.get('X-GitHub-Hook-ID');
  return /^\d{1,15}$/.test(value) ? Number(value) : null;
}

/** The X-GitHub-* headers, kept with the delivery (the signature is not among them). */
function githubHeaders(ctx: Context): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(ctx.headers)) {
    if (name.startsWith('x-github-') && value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}
