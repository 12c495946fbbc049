/** Smoke test of the Redis test helpers against the real server: own prefix, SCAN cleanup. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Redis } from 'ioredis';

import { testRedisUrl } from './env';
import { createTestRedis, deleteRedisKeysByPrefix, redisTestPrefix } from './redis';

describe('Redis test prefix', () => {
  it('round-trips values under its own prefix and deletes exactly its keys', { timeout: 30_000 }, async () => {
    const t = await createTestRedis();
    const neighbour = redisTestPrefix(t.redis);
    try {
      assert.match(t.prefix, /^it-[a-z0-9]+-[0-9a-f]{8}:$/);
      await t.redis.set(t.key('plain'), 'v1');
      await t.redis.hset(t.key('hash'), { a: '1', b: '2' });
      // More keys than one SCAN batch holds, so the cleanup has to follow the cursor.
      const pipeline = t.redis.pipeline();
      for (let i = 0; i < 1200; i++) pipeline.set(t.key(`bulk:${i}`), String(i));
      await pipeline.exec();
      await t.redis.set(neighbour.key('other'), 'untouched');

      assert.equal(await t.redis.get(t.key('plain')), 'v1');
      assert.deepEqual(await t.redis.hgetall(t.key('hash')), { a: '1', b: '2' });

      assert.equal(await t.cleanup(), 1202);
      const [, left] = await t.redis.scan('0', 'MATCH', `${t.prefix}*`, 'COUNT', 10_000);
      assert.deepEqual(left, []);
      assert.equal(await t.redis.get(neighbour.key('other')), 'untouched');
    } finally {
      await neighbour.cleanup();
      await t.close();
    }
  });

  it('treats glob characters in a prefix literally', { timeout: 30_000 }, async () => {
    const redis = new Redis(testRedisUrl(), { lazyConnect: true });
    await redis.connect();
    const base = redisTestPrefix(redis);
    try {
      await redis.set(`${base.prefix}a*b:x`, '1');
      await redis.set(`${base.prefix}aXb:x`, '2');
      assert.equal(await deleteRedisKeysByPrefix(redis, `${base.prefix}a*b:`), 1);
      assert.equal(await redis.get(`${base.prefix}aXb:x`), '2');
    } finally {
      await base.cleanup();
      await redis.quit();
    }
  });
});
