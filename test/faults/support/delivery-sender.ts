import { request as httpRequest } from 'node:http';
import { signedRequest, type Delivery } from '../../support/webhooks.ts';

// Sends webhook deliveries the way GitHub and an operator together do: each delivery keeps its
// X-GitHub-Delivery id and is sent again (a redelivery) until some API answers it 2xx, so a
// delivery that reached a dying process is not lost by the sender. Several clients send at once,
// round-robin over the API URLs the scenario gives (those change as processes die and come back).

export type SendReport = {
  /** Delivery ids answered 2xx, with the status of that answer. */
  accepted: Map<string, number>;
  /** Attempts that got no answer (refused, reset) or a non-2xx one, by kind. */
  failedAttempts: Map<string, number>;
  /** Answers other than 2xx, 503 and 5xx-from-a-dying-process: must stay empty. */
  unexpected: string[];
};

export type Sender = {
  /** Resolves once `count` deliveries have been answered 2xx. */
  acceptedAtLeast: (count: number) => Promise<void>;
  done: Promise<SendReport>;
  report: SendReport;
};

export function sendDeliveries(
  deliveries: readonly Delivery[],
  options: { urls: () => readonly string[]; concurrency?: number; giveUpAfterMs?: number },
): Sender {
  const report: SendReport = { accepted: new Map(), failedAttempts: new Map(), unexpected: [] };
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const queue = [...deliveries];
  let turn = 0;

  const fail = (kind: string) => report.failedAttempts.set(kind, (report.failedAttempts.get(kind) ?? 0) + 1);
  const client = async () => {
    for (let delivery = queue.shift(); delivery !== undefined; delivery = queue.shift()) {
      const signed = await signedRequest(delivery);
      const deadline = Date.now() + (options.giveUpAfterMs ?? 60_000);
      for (;;) {
        const urls = options.urls();
        const url = urls[turn++ % urls.length]!;
        const outcome = await post(`${url}/webhooks/github`, signed.headers, signed.body);
        if (outcome.status >= 200 && outcome.status < 300) {
          report.accepted.set(signed.deliveryId, outcome.status);
          for (const waiter of [...waiters]) {
            if (report.accepted.size >= waiter.count) {
              waiters.splice(waiters.indexOf(waiter), 1);
              waiter.resolve();
            }
          }
          break;
        }
        if (outcome.status === 0) fail(outcome.error);
        else if (outcome.status === 503) fail('503');
        else report.unexpected.push(`${signed.deliveryId}: ${outcome.status} ${outcome.body.slice(0, 200)}`);
        if (outcome.status !== 0 && outcome.status !== 503) break;
        if (Date.now() > deadline) throw new Error(`delivery ${signed.deliveryId} was not accepted within ${options.giveUpAfterMs ?? 60_000} ms`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  };
  const done = Promise.all(Array.from({ length: options.concurrency ?? 16 }, client)).then(() => report);
  // A sender that throws must not leave a waiter hanging.
  void done.catch(() => {
    for (const waiter of waiters.splice(0)) waiter.resolve();
  });
  return {
    report,
    done,
    acceptedAtLeast: (count) =>
      report.accepted.size >= count ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ count, resolve })),
  };
}

/** One POST on a fresh connection; status 0 with the error code when no answer came. */
function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string; error: string }> {
  return new Promise((resolve) => {
    const request = httpRequest(url, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent: false, timeout: 10_000 }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: text, error: '' }));
      response.on('error', (error: NodeJS.ErrnoException) => resolve({ status: 0, body: '', error: error.code ?? error.message }));
    });
    request.on('timeout', () => request.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ status: 0, body: '', error: error.code ?? error.message }));
    request.end(body);
  });
}
