import { listenForChanges, type ChangeListener, type ChangeListenerOptions } from '../src/db/change-listener.ts';
import type { Logger } from '../src/logger.ts';
import { ResponseCache, type ResponseCacheOptions } from './response-cache.ts';

export type LiveCache = { cache: ResponseCache; listener: ChangeListener; stop: () => Promise<void> };

/**
 * A response cache kept current by the database's change notifications: on while listening, each
 * notification drops the answers of its product, and every (re)connect starts from empty.
 */
export function startLiveCache(
  databaseUrl: string,
  logger: Logger,
  options: ResponseCacheOptions & Omit<ChangeListenerOptions, 'logger'> = {},
): LiveCache {
  const cache = new ResponseCache(options);
  const listener = listenForChanges(
    databaseUrl,
    {
      onChange: (productId) => cache.invalidate(productId),
      onConnected: () => {
        cache.setEnabled(true);
        logger.info('response cache on: listening for release changes');
      },
      onDisconnected: () => cache.setEnabled(false),
    },
    { ...options, logger },
  );
  return {
    cache,
    listener,
    stop: async () => {
      await listener.stop();
      cache.setEnabled(false);
    },
  };
}
