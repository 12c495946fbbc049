import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { loadStackConfig, StackError } from './config';
import { parseUp } from './index';
import { kafkaEdgeListeners, proxyEdges, proxyPorts, viaProxy } from './proxy';
import { serviceEnv } from './services';
import { readState, writeState, type StackState } from './state';

describe('stack up --proxies: edges', () => {
  const config = loadStackConfig({ MFSIM_PROXY_PORT_BASE: '7800', MFSIM_PROXY_CONTROL_PORT: '7890', DATABASE_URL: 'postgresql://postgres@db.local:6543/mfsim' }, { root: '/repo', replicas: 'xfs-fs=2' });

  it('gives each service process a postgres, a redis and a kafka edge, and Kafka one listener per kafka edge', () => {
    const edges = proxyEdges(config);
    assert.equal(Object.keys(edges).length, 6 * 3);
    assert.deepEqual(edges['pmem-driver->postgres'], { port: 7800, upstream: 'db.local:6543' });
    assert.deepEqual(edges['pmem-driver->redis'], { port: 7801, upstream: '127.0.0.1:16379' });
    assert.deepEqual(edges['pmem-driver->kafka'], { port: 7802, upstream: '127.0.0.1:7818', kafkaListener: { name: 'EDGE1', port: 7818 } });
    assert.deepEqual(edges['xfs-fs-2->kafka'], { port: 7814, upstream: '127.0.0.1:7822', kafkaListener: { name: 'EDGE5', port: 7822 } });
    assert.deepEqual(kafkaEdgeListeners(edges)[4], { name: 'EDGE5', port: 7822, advertisedPort: 7814 });
    const ports = proxyPorts(config, edges).map((p) => p.port);
    assert.equal(new Set(ports).size, ports.length, 'no port twice');
    assert.equal(ports[0], 7890);
  });

  it('refuses a port base too high for its edges (exit 2)', () => {
    const high = loadStackConfig({ MFSIM_PROXY_PORT_BASE: '65530' }, { root: '/repo' });
    assert.throws(() => proxyEdges(high), (e: Error) => e instanceof StackError && e.exitCode === 2 && /MFSIM_PROXY_PORT_BASE=65530 is too high/.test(e.message));
  });

  it('parses --proxies', () => {
    assert.equal(parseUp(['--proxies']).proxies, true);
    assert.equal(parseUp([]).proxies, undefined);
  });

  it('routes a service through its own edges and passes the admin token, from the recorded state', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mfsim-proxy-spec-'));
    try {
      const c = loadStackConfig({ MFSIM_KAFKA_PORT: '29092' }, { root: '/repo', stackDir: dir });
      const xfs = c.services.find((s) => s.name === 'xfs-fs')!;
      const plain = serviceEnv(c, xfs, {});
      assert.equal(plain['DATABASE_URL'], 'postgresql://postgres@127.0.0.1:5432/mfsim');
      assert.equal(plain['MFSIM_ADMIN_TOKEN'], undefined);
      const state: StackState = {
        startedAt: 'now',
        services: {},
        adminToken: 'tok-12345678',
        proxy: { pid: 1, controlPort: 7890, logFile: '', pidFile: '', edges: proxyEdges(c) },
      };
      writeState(c, state);
      assert.equal(statSync(c.stateFile).mode & 0o777, 0o600, 'state.json holds the token: mode 0600');
      assert.equal(readState(c)?.adminToken, 'tok-12345678');
      const env = serviceEnv(c, xfs, {});
      assert.equal(env['MFSIM_ADMIN_TOKEN'], 'tok-12345678');
      assert.equal(env['DATABASE_URL'], 'postgresql://postgres@127.0.0.1:7809/mfsim');
      assert.equal(env['REDIS_URL'], 'redis://127.0.0.1:7810');
      assert.equal(env['KAFKA_BROKERS'], '127.0.0.1:7811');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('viaProxy keeps user, database and query', () => {
    assert.equal(viaProxy('postgresql://u:p@db:5432/x?sslmode=disable', 7001), 'postgresql://u:p@127.0.0.1:7001/x?sslmode=disable');
    assert.equal(viaProxy('redis://127.0.0.1:16379', 7002), 'redis://127.0.0.1:7002');
  });
});
