import { Redis } from 'ioredis';

export { Redis };

export interface CreateRedisOptions {
  /** Redis URL (REDIS_URL), e.g. redis://127.0.0.1:6379. */
  url: string;
  /** Prepended to every key by ioredis (MFSIM_REDIS_PREFIX, e.g. `mfsim:`). */
  keyPrefix: string;
  /** Reconnect attempts after a connection loss before giving up; default 20 (about 30 s). */
  maxReconnectAttempts?: number;
  /** Connection name shown by CLIENT LIST, e.g. the service name. */
  connectionName?: string;
}

/**
 * Creates an ioredis client that connects at once (lazyConnect off) and fails fast rather than
 * hanging a Kafka handler or a health check:
 * - a command is retried on at most 2 reconnects (maxRetriesPerRequest), then rejects;
 * - connecting and each command time out after 5 s;
 * - reconnects back off exponentially from 100 ms to 2 s with jitter, and stop after
 *   `maxReconnectAttempts` consecutive failures; the client then ends ('end' event) and every
 *   command rejects with "Connection is closed", which pingRedis reports as down. The attempt
 *   count resets after each successful connect.
 * Note ioredis applies keyPrefix to command keys but not to SCAN/KEYS patterns, and SCAN replies
 * carry the full key: to clean up a prefix, SCAN MATCH `<keyPrefix>*` and strip keyPrefix from
 * each key before DEL (or use a client without keyPrefix).
 */
export function createRedis(options: CreateRedisOptions): Redis {
  const maxReconnectAttempts = options.maxReconnectAttempts ?? 20;
  return new Redis(options.url, {
    keyPrefix: options.keyPrefix,
    lazyConnect: false,
    maxRetriesPerRequest: 2,
    connectTimeout: 5000,
    commandTimeout: 5000,
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    retryStrategy: (times) => {
      if (times > maxReconnectAttempts) return null;
      return Math.min(100 * 2 ** (times - 1), 2000) + Math.floor(Math.random() * 100);
    },
  });
}
