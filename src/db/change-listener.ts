import pg from 'pg';
import type { Logger } from '../logger.ts';

// One dedicated connection LISTENing on `release_changes`: the releases trigger (and the product and
// sync-state triggers of migration 0020) send the product id there when their transaction commits.
// The API drops cached answers of that product when one arrives. (The worker's delivery enqueuer
// listens the same way on `webhook_deliveries_stored`, which the intake notifies.) Notifications sent while the
// connection is down are lost for good (PostgreSQL does not queue them for absent listeners), so
// the owner is told on every (re)connect and must then forget everything it derived.

export const CHANGES_CHANNEL = 'release_changes';

export type ChangeListenerEvents = {
  /** A write of `productId` committed (null: the payload named no product). */
  onChange: (productId: number | null) => void;
  /** Listening (again): anything cached before may have missed notifications. */
  onConnected: () => void;
  /** Not listening: nothing cached can be trusted until onConnected. */
  onDisconnected: () => void;
};

export type ChangeListenerOptions = {
  logger: Logger;
  /** The channel (one of this project's constants); `release_changes` by default. */
  channel?: string;
  applicationName?: string;
  /** First retry delay; doubles per failed attempt up to maxBackoffMs (with jitter). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** A silent network drop sends no error: a periodic query notices it. */
  heartbeatMs?: number;
};

export type ChangeListener = {
  readonly listening: boolean;
  /** Resolves once listening for the first time (or when stopped). */
  readonly ready: Promise<void>;
  stop: () => Promise<void>;
};

export function listenForChanges(databaseUrl: string, events: ChangeListenerEvents, options: ChangeListenerOptions): ChangeListener {
  const minBackoffMs = options.minBackoffMs ?? 100;
  const maxBackoffMs = options.maxBackoffMs ?? 5_000;
  const heartbeatMs = options.heartbeatMs ?? 10_000;
  const logger = options.logger;
  const channel = options.channel ?? CHANGES_CHANNEL;

  let client: pg.Client | undefined;
  let listening = false;
  let stopped = false;
  let attempt = 0;
  let retryTimer: NodeJS.Timeout | undefined;
  let heartbeatTimer: NodeJS.Timeout | undefined;
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const lose = (lost: pg.Client, reason: unknown) => {
    if (lost !== client) return;
    client = undefined;
    clearInterval(heartbeatTimer);
    lost.removeAllListeners('notification');
    lost.end().catch(() => undefined);
    if (listening) {
      listening = false;
      events.onDisconnected();
    }
    if (stopped) return;
    const delay = Math.min(maxBackoffMs, minBackoffMs * 2 ** attempt) * (0.5 + Math.random() / 2);
    attempt += 1;
    logger.warn({ err: reason, channel, retryInMs: Math.round(delay) }, 'notifications lost; reconnecting');
    retryTimer = setTimeout(connect, delay);
  };

  const connect = () => {
    if (stopped) return;
    const candidate = new pg.Client({
      connectionString: databaseUrl,
      application_name: options.applicationName ?? 'release-registry-api-listen',
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
    });
    client = candidate;
    candidate.on('error', (error) => lose(candidate, error));
    candidate.on('end', () => lose(candidate, new Error('connection ended')));
    candidate.on('notification', (message) => {
      if (message.channel !== channel) return;
      const productId = message.payload ? Number(message.payload) : Number.NaN;
      events.onChange(Number.isSafeInteger(productId) ? productId : null);
    });
    candidate
      .connect()
      .then(() => candidate.query(`LISTEN ${channel}`))
      .then(() => {
        // Stopped (or replaced) while connecting: this connection is nobody's now.
        if (candidate !== client) {
          candidate.end().catch(() => undefined);
          return;
        }
        attempt = 0;
        listening = true;
        events.onConnected();
        markReady();
        heartbeatTimer = setInterval(() => {
          const timeout = setTimeout(() => lose(candidate, new Error('heartbeat timed out')), heartbeatMs);
          candidate.query('SELECT 1').then(
            () => clearTimeout(timeout),
            (error: unknown) => {
              clearTimeout(timeout);
              lose(candidate, error);
            },
          );
        }, heartbeatMs);
        heartbeatTimer.unref();
      })
      .catch((error: unknown) => lose(candidate, error));
  };

  connect();

  return {
    get listening() {
      return listening;
    },
    ready,
    stop: async () => {
      stopped = true;
      markReady();
      clearTimeout(retryTimer);
      clearInterval(heartbeatTimer);
      const current = client;
      client = undefined;
      listening = false;
      if (current !== undefined) await current.end().catch(() => undefined);
    },
  };
}
