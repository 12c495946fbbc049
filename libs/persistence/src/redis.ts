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
  /** How long a command may wait for its reply (ms); default 5000. */
  commandTimeoutMs?: number;
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
 * - a command that timed out drops the connection (it reconnects at once): ioredis matches replies
 *   to commands in order, so a request lost on the way (a network blackhole) would otherwise shift
 *   every later reply onto the wrong command — a GET answered with another key's value. Found by
 *   the chaos `blackhole` fault on the mm-process -> Redis edge.
 * Note ioredis applies keyPrefix to command keys but not to SCAN/KEYS patterns, and SCAN replies
 * carry the full key: to clean up a prefix, SCAN MATCH `<keyPrefix>*` and strip keyPrefix from
 * each key before DEL (or use a client without keyPrefix).
 */
export function createRedis(options: CreateRedisOptions): Redis {
  const maxReconnectAttempts = options.maxReconnectAttempts ?? 20;
  const redis = new Redis(options.url, {
    keyPrefix: options.keyPrefix,
    lazyConnect: false,
    maxRetriesPerRequest: 2,
    connectTimeout: 5000,
    commandTimeout: options.commandTimeoutMs ?? 5000,
    ...(options.connectionName ? { connectionName: options.connectionName } : {}),
    retryStrategy: (times) => {
      if (times > maxReconnectAttempts) return null;
      return Math.min(100 * 2 ** (times - 1), 2000) + Math.floor(Math.random() * 100);
    },
  });
  const send = redis.sendCommand.bind(redis);
  // ioredis passes a command through sendCommand again when it resends it after a reconnect:
  // watch each one once, or its old timeout would drop the new connection too.
  const watched = new WeakSet<object>();
  redis.sendCommand = ((...args: Parameters<Redis['sendCommand']>) => {
    const reply = send(...args) as Promise<unknown>;
    if (watched.has(args[0])) return reply;
    watched.add(args[0]);
    reply.catch((e: unknown) => {
      // The reply queue can no longer be trusted: start a fresh connection.
      if (e instanceof Error && e.message === 'Command timed out' && redis.status === 'ready') redis.disconnect(true);
    });
    return reply;
  }) as Redis['sendCommand'];
  return redis;
}
