/**
 * `mfsim stack up`, status and down against real servers: a second Kafka and the stack's own
 * redis-server on free ports, the test PostgreSQL (a database of this test's own), and two replicas
 * of xfs-fs (only that service, to stay quick), and the trace backend (Zipkin, from its jar) on a
 * free port, which the services export to. Its state, logs and data live in a temp dir, so a
 * developer's own stack (.mfsim/stack) is never touched; everything it made is removed at the end.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Redis } from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';

import { dropDatabase, findFreePorts, isProcessAlive, stopRedisServer, waitFor, withDatabase } from '@mfsim/stack';

import { traceUrlTemplate } from '../distributed/trace-link';
import { testDatabaseAdminUrl, uniqueId } from '@mfsim/testing';

import { loadStackConfig, StackConfig } from './config';
import { ensureRedis } from './infra';
import { stackDown, stackUp } from './lifecycle';
import { readState, writePidFile, writeState } from './state';
import { collectStatus, StatusRow } from './status';

async function withRedis<T>(url: string, use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    return await use(redis);
  } finally {
    await redis.quit().catch(() => redis.disconnect());
  }
}

const byComponent = (rows: StatusRow[]) => Object.fromEntries(rows.map((r) => [r.component, r]));

describe('mfsim stack up/status/down (own Redis, Zipkin, xfs-fs x2)', () => {
  const stackDir = mkdtempSync(path.join(tmpdir(), 'mfsim-stack-it-'));
  const dbName = uniqueId('mfsim_stack_it').replace(/-/g, '_');
  const topicPrefix = `${uniqueId('it-stack')}.`;
  const lines: string[] = [];
  const say = (line: string) => lines.push(line);
  let config: StackConfig;
  let upRc: number | undefined;

  before(async () => {
    // Kafka, its controller, the Redis, then 15 ports for the services (base + 1 .. base + 15), then Zipkin.
    const ports = await findFreePorts(19);
    config = loadStackConfig(
      {
        MFSIM_KAFKA_PORT: String(ports[0]),
        MFSIM_KAFKA_CONTROLLER_PORT: String(ports[1]),
        MFSIM_REDIS_PORT: String(ports[2]),
        MFSIM_HTTP_PORT_BASE: String(ports[2]),
        DATABASE_URL: withDatabase(testDatabaseAdminUrl(), dbName),
        MFSIM_TOPIC_PREFIX: topicPrefix,
        MFSIM_REDIS_PREFIX: `${topicPrefix}`,
        MFSIM_ZIPKIN_PORT: String(ports[18]),
      },
      { stackDir, replicas: 'xfs-fs=2', timeoutMs: 150_000 },
    );
    upRc = await stackUp(config, { services: true, only: ['xfs-fs'] }, say);
  });

  after(async () => {
    // Whatever a failed assertion left running (down is idempotent), then the database and the dir.
    await stackDown(config, () => undefined).catch(() => undefined);
    await dropDatabase(testDatabaseAdminUrl(), dbName);
    rmSync(stackDir, { recursive: true, force: true });
  });

  it('starts Kafka, its own Redis, the database and two xfs-fs processes, and records them', () => {
    assert.equal(upRc, 0, lines.join('\n'));
    const state = readState(config);
    assert.ok(state?.kafka && state.redis, 'state records the broker and the Redis');
    assert.equal(state.postgres, undefined, 'PostgreSQL was running: not ours');
    assert.equal(state.redis.port, config.ownRedis!.port);
    assert.equal(state.redis.dataDir, path.join(stackDir, 'redis'));
    assert.ok(isProcessAlive(state.kafka.pid) && isProcessAlive(state.redis.pid));
    assert.ok(existsSync(config.kafka.pidFile) && existsSync(config.ownRedis!.pidFile));
    assert.deepEqual(Object.keys(state.services).sort(), ['xfs-fs-1', 'xfs-fs-2']);
    for (const id of ['xfs-fs-1', 'xfs-fs-2']) assert.ok(existsSync(path.join(config.stackDir, `${id}.log`)), `${id}.log`);
    assert.ok(lines.some((l) => /kafka\s+ready in \d+\.\ds/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => /redis\s+ready in .* \(AOF appendfsync always, data .*\/redis\)/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes(`database       ${dbName}: created`)), lines.join('\n'));
  });

  it('starts Zipkin and records its pid, port and trace URL template, which the CLI then links with', () => {
    const state = readState(config)!;
    const port = config.zipkin!.port;
    assert.ok(state.zipkin, lines.join('\n'));
    assert.equal(state.zipkin.port, port);
    assert.equal(state.zipkin.traceUrl, `http://127.0.0.1:${port}/zipkin/traces/{traceId}`);
    assert.equal(state.zipkin.spansEndpoint, `http://127.0.0.1:${port}/api/v2/spans`);
    assert.ok(isProcessAlive(state.zipkin.pid) && existsSync(config.zipkin!.pidFile));
    assert.ok(lines.some((l) => new RegExp(`zipkin\\s+ready in .*http://127\\.0\\.0\\.1:${port}/zipkin/ pid ${state.zipkin!.pid}`).test(l)), lines.join('\n'));
    assert.equal(traceUrlTemplate({ MFSIM_STACK_DIR: stackDir }), state.zipkin.traceUrl);
  });

  it('the services send their spans to that Zipkin', async () => {
    // xfs-fs traces its own work (the resend sweep's queries, Kafka): Zipkin soon knows the service.
    const services = await waitFor(
      'xfs-fs in Zipkin /api/v2/services',
      async () => {
        const r = await fetch(`http://127.0.0.1:${config.zipkin!.port}/api/v2/services`, { signal: AbortSignal.timeout(3_000) });
        const list = (await r.json()) as string[];
        return list.includes('xfs-fs') ? list : undefined;
      },
      60_000,
      500,
    );
    assert.ok(services.includes('xfs-fs'));
  });

  it('status lists each replica with its pid, port and health', async () => {
    const state = readState(config)!;
    const rows = byComponent(await collectStatus(config));
    assert.equal(rows['kafka']?.pid, String(state.kafka!.pid));
    assert.equal(rows['redis']?.pid, String(state.redis!.pid));
    assert.match(rows['redis']?.health ?? '', /^ok \(Redis [\d.]+\), mfsim stack's own: AOF appendfsync always$/);
    assert.deepEqual(
      { pid: rows['zipkin']?.pid, port: rows['zipkin']?.port, health: rows['zipkin']?.health, healthy: rows['zipkin']?.healthy },
      { pid: String(state.zipkin!.pid), port: String(config.zipkin!.port), health: `ok (UP) traces: ${state.zipkin!.traceUrl}`, healthy: true },
    );
    for (const [id, port] of [
      ['xfs-fs-1', config.httpPortBase + 4],
      ['xfs-fs-2', config.httpPortBase + 14],
    ] as const) {
      assert.deepEqual(
        { pid: rows[id]?.pid, port: rows[id]?.port, health: rows[id]?.health },
        { pid: String(state.services[id]!.pid), port: String(port), health: '200 ok' },
        id,
      );
    }
    assert.equal(rows['pmem-driver'], undefined, 'only what up started is listed');
  });

  it('the replicas are two members of one consumer group', async () => {
    const admin = new Kafka({ clientId: 'it-stack', brokers: [`127.0.0.1:${config.kafka.port}`], logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    try {
      // Healthy means joined; the group settles once the second member's rebalance is done.
      const group = await waitFor(
        'a stable group of 2',
        async () => {
          const [g] = (await admin.describeGroups([`${topicPrefix}xfs-fs`])).groups;
          return g?.state === 'Stable' && g.members.length === 2 ? g : undefined;
        },
        60_000,
        250,
      );
      assert.equal(group.members.length, 2);
      assert.equal(new Set(group.members.map((m) => m.memberId)).size, 2);
    } finally {
      await admin.disconnect();
    }
  });

  it("keeps a key written through the stack's Redis when that redis-server restarts", async () => {
    const state = readState(config)!;
    const key = `${topicPrefix}restart`;
    await withRedis(config.redisUrl, (redis) => redis.set(key, 'kept'));

    assert.equal(await stopRedisServer(state.redis!.pid), 'exited');
    const again = await ensureRedis(config); // the same start as up: same port, same data dir
    assert.ok(again.started && again.started.pid !== state.redis!.pid);
    state.redis = again.started;
    writePidFile(again.started.pidFile, again.started.pid);
    writeState(config, state);

    assert.equal(await withRedis(config.redisUrl, (redis) => redis.get(key)), 'kept');
  });

  it('refuses a second up while the first one runs', async () => {
    await assert.rejects(stackUp(config, { services: false }, say), /the stack is already up \(.*kafka pid \d+/);
  });

  it('down stops what up started, keeps the logs and the Redis data, and leaves PostgreSQL alone', async () => {
    const state = readState(config)!;
    const pids = [state.kafka!.pid, state.redis!.pid, state.zipkin!.pid, ...Object.values(state.services).map((s) => s.pid)];
    assert.equal(await stackDown(config, say), 0);
    for (const pid of pids) assert.equal(isProcessAlive(pid), false, `pid ${pid}`);
    assert.equal(existsSync(config.stateFile), false);
    assert.equal(existsSync(config.kafka.pidFile), false);
    assert.equal(existsSync(config.ownRedis!.pidFile), false);
    assert.equal(existsSync(config.zipkin!.pidFile), false);
    assert.ok(lines.some((l) => /^zipkin\s+pid \d+: stopped$/.test(l)), lines.join('\n'));
    assert.equal(traceUrlTemplate({ MFSIM_STACK_DIR: stackDir }), undefined, 'no trace backend known once it is down');
    assert.equal(existsSync(path.join(config.stackDir, 'xfs-fs-1.pid')), false);
    assert.ok(existsSync(config.kafka.logFile), 'the log is kept');
    assert.ok(existsSync(path.join(config.ownRedis!.dataDir, 'appendonlydir')), 'the AOF is kept for the next up');
    const rows = byComponent(await collectStatus(config));
    assert.ok(rows['postgres']?.healthy);
    assert.equal(rows['redis']?.health, 'not running');
    assert.deepEqual({ health: rows['zipkin']?.health, expected: rows['zipkin']?.expected }, { health: 'not running', expected: false });
  });
});
