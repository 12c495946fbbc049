import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { redisServerArgs } from './redis-server';

describe('redisServerArgs', () => {
  const args = (p: Parameters<typeof redisServerArgs>[0]) => {
    const list = redisServerArgs(p);
    const map = new Map<string, string>();
    for (let i = 0; i < list.length; i += 2) map.set(list[i]!, list[i + 1]!);
    return map;
  };

  it('keeps every acknowledged write in an append-only file in the data dir, on 127.0.0.1 only', () => {
    const a = args({ port: 16379, dataDir: '/data/redis' });
    assert.equal(a.get('--port'), '16379');
    assert.equal(a.get('--bind'), '127.0.0.1');
    assert.equal(a.get('--dir'), '/data/redis');
    assert.equal(a.get('--appendonly'), 'yes');
    assert.equal(a.get('--appendfsync'), 'always', 'fsync before the reply');
    assert.equal(a.get('--save'), '', 'no RDB snapshots: the AOF is the one copy');
    assert.equal(a.get('--daemonize'), 'no', 'a child we can track by pid');
  });

  it('fsyncs once a second when asked', () => {
    assert.equal(args({ port: 1, dataDir: '/d', appendfsync: 'everysec' }).get('--appendfsync'), 'everysec');
  });
});
