import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { pingRedis } from './health';
import { createRedis, Redis } from './redis';

const REDIS_URL = process.env.MFSIM_TEST_REDIS_URL?.trim() || 'redis://127.0.0.1:6379';

/**
 * Deletes the keys under the client's keyPrefix with SCAN + DEL. ioredis does not prefix SCAN
 * patterns and returns full keys, while DEL would prefix again: strip the prefix first.
 */
async function deleteOwnKeys(redis: Redis): Promise<number> {
  const keyPrefix = redis.options.keyPrefix!;
  let deleted = 0;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 500);
    cursor = next;
    if (keys.length > 0) deleted += await redis.del(...keys.map((k) => k.slice(keyPrefix.length)));
  } while (cursor !== '0');
  return deleted;
}

describe('createRedis', () => {
  const prefix = `mfsim-it-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}:`;
  let redis: Redis;
  let raw: Redis;

  before(() => {
    redis = createRedis({ url: REDIS_URL, keyPrefix: prefix, connectionName: 'persistence-it' });
    raw = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  after(async () => {
    try {
      await deleteOwnKeys(redis);
      const [, left] = await raw.scan('0', 'MATCH', `${prefix}*`, 'COUNT', 1000);
      assert.deepEqual(left, [], 'no key left under the test prefix');
    } finally {
      await Promise.all([redis.quit(), raw.quit()]);
    }
  });

  it('round-trips values under its key prefix', async () => {
    await redis.set('dedupe:msg-1', '1', 'EX', 60, 'NX');
    assert.equal(await redis.set('dedupe:msg-1', '1', 'EX', 60, 'NX'), null, 'SET NX refuses a repeat');
    await redis.hset('device:dax0', { offsetBytes: '4096', lenBytes: '8192' });

    assert.equal(await redis.get('dedupe:msg-1'), '1');
    assert.deepEqual(await redis.hgetall('device:dax0'), { offsetBytes: '4096', lenBytes: '8192' });
    assert.equal(await raw.get(`${prefix}dedupe:msg-1`), '1', 'stored under the prefix');
    assert.equal(await raw.exists('dedupe:msg-1'), 0, 'nothing written outside the prefix');
  });

  it('SCAN + DEL cleans up only its own prefix', async () => {
    const neighbour = `${prefix.slice(0, -1)}-other:key`;
    await raw.set(neighbour, 'keep', 'EX', 60);
    try {
      await redis.set('a', '1');
      await redis.set('b', '2');
      assert.ok((await deleteOwnKeys(redis)) >= 2);
      assert.equal(await redis.exists('a', 'b'), 0);
      assert.equal(await raw.get(neighbour), 'keep');
    } finally {
      await raw.del(neighbour);
    }
  });

  it('pingRedis is up on a live server', async () => {
    assert.deepEqual(await pingRedis(redis), { status: 'up' });
  });

  it('pingRedis reports down, without throwing, when Redis is unreachable', async () => {
    const url = new URL(REDIS_URL);
    url.port = '1';
    const dead = createRedis({ url: url.toString(), keyPrefix: prefix, maxReconnectAttempts: 1 });
    dead.on('error', () => undefined);
    try {
      const result = await pingRedis(dead, { timeoutMs: 3000 });
      assert.equal(result.status, 'down');
      assert.ok(result.status === 'down' && result.error.length > 0);
    } finally {
      dead.disconnect();
    }
  });
});

describe('createRedis after a request lost on the way (a network blackhole)', () => {
  it('drops the connection on a command timeout, so later replies are not shifted onto the wrong command', async () => {
    const target = new URL(REDIS_URL);
    let blackhole = false;
    const sockets = new Set<net.Socket>();
    // A forwarder to the real Redis that, while `blackhole` is on, swallows what the client sends.
    const proxy = net.createServer((client) => {
      const upstream = net.connect({ host: target.hostname, port: Number(target.port || 6379) });
      sockets.add(client).add(upstream);
      client.on('data', (b) => {
        if (!blackhole) upstream.write(b);
      });
      upstream.on('data', (b) => client.write(b));
      const close = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', close).on('close', close);
      upstream.on('error', close).on('close', close);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
    const port = (proxy.address() as net.AddressInfo).port;
    const prefix = `mfsim-it-bh-${randomBytes(4).toString('hex')}:`;
    const url = new URL(REDIS_URL);
    url.hostname = '127.0.0.1';
    url.port = String(port);
    const redis = createRedis({ url: url.toString(), keyPrefix: prefix, commandTimeoutMs: 300, maxReconnectAttempts: 5 });
    try {
      await redis.set('a', 'value-of-a');
      await redis.set('b', 'value-of-b');
      blackhole = true;
      await assert.rejects(redis.get('a'), /Command timed out/);
      blackhole = false;
      // Without the fix the reply to this GET b lands on the lost GET a, and the next command
      // gets GET b's reply: a value read under the wrong key.
      const b = await redis.get('b').catch(() => redis.get('b'));
      assert.equal(b, 'value-of-b');
      assert.equal(await redis.get('a'), 'value-of-a');
      assert.equal(await redis.set('c', '1'), 'OK');
    } finally {
      await redis.del('a', 'b', 'c').catch(() => undefined);
      redis.disconnect();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => proxy.close(() => r()));
    }
  });
});
