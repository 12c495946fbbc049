/**
 * Per-test Redis key prefixes. A test writes only keys under its own prefix and deletes them
 * (SCAN + UNLINK, never KEYS or FLUSHDB) at the end.
 */
import { Redis } from 'ioredis';

import { testRedisUrl, uniqueId } from './env';

export interface RedisTestPrefix {
  /** e.g. "it-m1abc-1f2e3d4c:" */
  readonly prefix: string;
  /** `<prefix><name>` */
  key(name: string): string;
  /** Deletes every key under the prefix. Returns how many were deleted. */
  cleanup(): Promise<number>;
}

/** Escapes the glob characters of a SCAN MATCH pattern. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** Deletes every key that starts with `prefix`, in SCAN batches. Returns how many were deleted. */
export async function deleteRedisKeysByPrefix(redis: Redis, prefix: string): Promise<number> {
  if (prefix.length < 4) throw new Error(`redis prefix "${prefix}" is too short to delete by`);
  const match = `${escapeGlob(prefix)}*`;
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

/** A key prefix on an existing client. Default prefix: uniqueId('it') + ':'. */
export function redisTestPrefix(redis: Redis, prefix: string = `${uniqueId('it')}:`): RedisTestPrefix {
  return {
    prefix,
    key: (name) => `${prefix}${name}`,
    cleanup: () => deleteRedisKeysByPrefix(redis, prefix),
  };
}

export interface TestRedis extends RedisTestPrefix {
  readonly redis: Redis;
  /** Deletes the prefix's keys, then closes the connection. */
  close(): Promise<number>;
}

/** A new client on testRedisUrl() with its own prefix. Call close() at the end. */
export async function createTestRedis(prefix?: string): Promise<TestRedis> {
  const redis = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1, enableOfflineQueue: false });
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new Error(`Redis at ${testRedisUrl()} is not reachable: ${(err as Error).message}`);
  }
  const p = redisTestPrefix(redis, prefix);
  return {
    ...p,
    redis,
    close: async () => {
      try {
        return await p.cleanup();
      } finally {
        await redis.quit().catch(() => redis.disconnect());
      }
    },
  };
}
