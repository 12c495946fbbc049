/**
 * The stack's persistent Redis against a real redis-server: what it acknowledged survives a
 * restart (SIGTERM, then a new redis-server on the same data dir) and a crash of the process
 * (SIGKILL). Each test has its own port and temp data dir, removed at the end.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';

import { Redis } from 'ioredis';

import { findFreePorts, isProcessAlive, PortInUseError, waitForExit } from './processes';
import { isRedisServerProcess, RedisServerHandle, startRedisServer } from './redis-server';

async function withClient<T>(url: string, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await use(redis);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

describe('startRedisServer (AOF)', () => {
  const dirs: string[] = [];
  const running: RedisServerHandle[] = [];
  const newDir = () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mfsim-redis-it-'));
    dirs.push(dir);
    return dir;
  };

  after(async () => {
    for (const h of running) await h.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps an acknowledged key across a restart (SIGTERM, then start again on the same dir)', { timeout: 60_000 }, async () => {
    const [port] = await findFreePorts(1);
    const dataDir = newDir();
    const first = await startRedisServer({ port: port!, dataDir });
    running.push(first);
    assert.ok(isRedisServerProcess(first.pid, port));
    assert.equal(first.url, `redis://127.0.0.1:${port}`);
    await withClient(first.url, async (redis) => {
      assert.deepEqual(await redis.config('GET', 'appendonly'), ['appendonly', 'yes']);
      assert.deepEqual(await redis.config('GET', 'appendfsync'), ['appendfsync', 'always']);
      assert.equal(await redis.set('mfsim:it:restart', 'kept'), 'OK');
    });

    assert.equal(await first.stop(), 'exited');
    assert.equal(isProcessAlive(first.pid), false);

    const second = await startRedisServer({ port: port!, dataDir });
    running.push(second);
    assert.notEqual(second.pid, first.pid);
    assert.equal(await withClient(second.url, (redis) => redis.get('mfsim:it:restart')), 'kept');
  });

  it('keeps an acknowledged key when the redis-server process is killed (SIGKILL)', { timeout: 60_000 }, async () => {
    const [port] = await findFreePorts(1);
    const dataDir = newDir();
    const first = await startRedisServer({ port: port!, dataDir });
    running.push(first);
    await withClient(first.url, (redis) => redis.set('mfsim:it:crash', 'kept'));

    process.kill(first.pid, 'SIGKILL');
    assert.ok(await waitForExit(first.pid, 10_000), 'redis-server is gone');

    const second = await startRedisServer({ port: port!, dataDir });
    running.push(second);
    assert.equal(await withClient(second.url, (redis) => redis.get('mfsim:it:crash')), 'kept');
  });

  it('names the port that is already in use', async () => {
    const [port] = await findFreePorts(1);
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await assert.rejects(startRedisServer({ port: port!, dataDir: newDir() }), (err: Error) => {
        assert.ok(err instanceof PortInUseError);
        assert.equal(err.message, `port ${port} (Redis) is already in use on 127.0.0.1`);
        return true;
      });
    } finally {
      blocker.close();
    }
  });

  it('stop() ends its pid once; a recorded pid that is gone is not a redis-server any more', async () => {
    const [port] = await findFreePorts(1);
    const h = await startRedisServer({ port: port!, dataDir: newDir() });
    running.push(h);
    assert.equal(await h.stop(), 'exited');
    assert.equal(await h.stop(), 'not-running');
    assert.equal(isRedisServerProcess(h.pid, port), false);
    assert.equal(isRedisServerProcess(process.pid), false, 'this node process is no redis-server');
  });
});
