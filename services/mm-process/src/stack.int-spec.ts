/**
 * The five services against real servers: Kafka from MFSIM_TEST_KAFKA_BROKERS, a fresh PostgreSQL
 * database (migrated), and this run's own topic, consumer-group and Redis key prefixes. Each service
 * runs as a child process exactly as it is deployed (`node --require register.js main.js`).
 *
 * Needs `npm run build` first: it starts services/<name>/dist/main.js.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Admin, Consumer, KafkaMessage, Producer } from 'kafkajs';
import { Client } from 'pg';

import { ALL_TOPICS, Topics, topicName } from '@mfsim/contracts';
import { DeadLetterHeaders } from '@mfsim/messaging';
import { migrateDeploy } from '@mfsim/persistence';
import {
  createTestDatabase,
  createTestRedis,
  createTestTopics,
  deleteTestGroups,
  deleteTestTopics,
  findFreePorts,
  terminateProcess,
  testKafka,
  testKafkaBrokers,
  TestDatabase,
  TestRedis,
  REPO_ROOT,
  RunningService,
  serviceEnvWithoutTelemetry,
  startServiceProcess,
  uniqueId,
  waitFor,
} from '@mfsim/testing';

const SERVICES = ['pmem-driver', 'dax-core', 'dm-mapper', 'xfs-fs', 'mm-process'] as const;
type ServiceName = (typeof SERVICES)[number];

const HEALTHY_WITHIN_MS = 60_000;

type StackService = RunningService<ServiceName> & { bootMs?: number };

async function getHealth(port: number): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) });
  return { status: response.status, body: await response.json() };
}

function isAllUp(body: unknown): boolean {
  const checks = (body as { checks?: Record<string, { status?: string }> }).checks ?? {};
  return Object.keys(checks).length === 3 && Object.values(checks).every((check) => check.status === 'up');
}

function rssKiB(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) : NaN;
}

/** A service with this run's servers and prefixes, and no telemetry. */
function startService(name: ServiceName, port: number, settings: Record<string, string>): StackService {
  return startServiceProcess(name, port, serviceEnvWithoutTelemetry(settings));
}

describe('stack of five services', { timeout: 240_000 }, () => {
  const runId = uniqueId('stack');
  const topicPrefix = `${runId}.`;
  const redisPrefix = `${runId}:`;
  const services = new Map<ServiceName, StackService>();
  let database: TestDatabase | undefined;
  let redis: TestRedis | undefined;
  let admin: Admin | undefined;
  let producer: Producer | undefined;
  const consumers: Consumer[] = [];

  const service = (name: ServiceName): StackService => {
    const running = services.get(name);
    assert.ok(running, `${name} is not running`);
    return running;
  };

  const failWithLogs = (error: unknown): never => {
    const logs = [...services.values()].map((s) => `--- ${s.name} ---\n${s.lines.slice(-40).join('\n')}`).join('\n');
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${logs}`);
  };

  before(async () => {
    const brokers = testKafkaBrokers();
    database = await createTestDatabase();
    await migrateDeploy({ databaseUrl: database.url });
    redis = await createTestRedis(redisPrefix);
    const kafka = testKafka(`${runId}-test`);
    admin = kafka.admin();
    await admin.connect();
    await createTestTopics(admin, topicPrefix, ALL_TOPICS);
    producer = kafka.producer();
    await producer.connect();

    const ports = await findFreePorts(SERVICES.length);
    const settings = {
      KAFKA_BROKERS: brokers.join(','),
      DATABASE_URL: database.url,
      REDIS_URL: process.env.MFSIM_TEST_REDIS_URL?.trim() || 'redis://127.0.0.1:6379',
      MFSIM_TOPIC_PREFIX: topicPrefix,
      MFSIM_REDIS_PREFIX: redisPrefix,
    };
    SERVICES.forEach((name, index) => services.set(name, startService(name, ports[index] as number, settings)));

    await Promise.all(
      [...services.values()].map(async (running) => {
        await waitFor(
          `${running.name} /health 200 with every check up`,
          async () => {
            if (running.child.exitCode !== null) throw failWithLogs(`${running.name} exited with ${running.child.exitCode}`);
            const { status, body } = await getHealth(running.port);
            return status === 200 && isAllUp(body) ? true : undefined;
          },
          HEALTHY_WITHIN_MS,
        ).catch(failWithLogs);
        running.bootMs = Date.now() - running.startedAt;
      }),
    );
  });

  after(async () => {
    for (const consumer of consumers) await consumer.disconnect().catch(() => undefined);
    await Promise.all([...services.values()].map((running) => terminateProcess(running.child.pid as number, { graceMs: 15_000 })));
    await producer?.disconnect().catch(() => undefined);
    if (admin) {
      await deleteTestGroups(admin, topicPrefix).catch(() => undefined);
      await deleteTestTopics(admin, topicPrefix).catch(() => undefined);
      await admin.disconnect();
    }
    await redis?.close();
    await database?.drop();
  });

  it('every service answers /health 200 with kafka, postgres and redis up', async (t) => {
    for (const name of SERVICES) {
      const running = service(name);
      const { status, body } = await getHealth(running.port);
      assert.equal(status, 200);
      assert.deepEqual(body, {
        status: 'ok',
        service: name,
        checks: { kafka: { status: 'up' }, postgres: { status: 'up' }, redis: { status: 'up' } },
      });
      t.diagnostic(`${name}: healthy ${running.bootMs} ms after spawn, RSS ${Math.round(rssKiB(running.child.pid as number) / 1024)} MiB`);
    }
  });

  it('dead-letters malformed messages with a reason, and the service stays healthy', async () => {
    const inputTopic = topicName(topicPrefix, Topics.MM_MEMORY_FAILURE);
    const notJson = Buffer.from('{"id": not json');
    const badPfn = Buffer.from(
      JSON.stringify({
        id: '0f8e1c52-7d3b-4a10-8c55-1e2f3a4b5c01',
        type: 'memory_failure',
        version: 1,
        failureId: '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11',
        causationId: null,
        occurredAt: '2026-11-23T02:00:00.000Z',
        source: 'stack.int-spec',
        data: { pfn: 'not-hex', mfFlags: 0x23, currentPid: 4242 },
      }),
    );
    const deadLetters: KafkaMessage[] = [];
    const consumer = testKafka(`${runId}-dlq`).consumer({ groupId: `${topicPrefix}test-dlq`, maxWaitTimeInMs: 200 });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topic: topicName(topicPrefix, 'mm.memory_failure.v1.dlq'), fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void deadLetters.push(message) });

    await producer?.send({
      topic: inputTopic,
      messages: [
        { key: 'dax0.0', value: notJson },
        { key: 'dax0.0', value: badPfn },
      ],
    });
    await waitFor('two dead letters', () => (deadLetters.length >= 2 ? true : undefined), 30_000).catch(failWithLogs);

    const [first, second] = deadLetters;
    assert.deepEqual(first?.value, notJson);
    assert.equal(first?.key?.toString(), 'dax0.0');
    assert.match(String(first?.headers?.[DeadLetterHeaders.REASON]), /^json: /);
    assert.equal(String(first?.headers?.[DeadLetterHeaders.TOPIC]), inputTopic);
    assert.equal(String(first?.headers?.[DeadLetterHeaders.CONSUMER]), `${topicPrefix}mm-process`);
    assert.deepEqual(second?.value, badPfn);
    assert.match(String(second?.headers?.[DeadLetterHeaders.REASON]), /^schema: data\.pfn: /);

    const mm = service('mm-process');
    assert.equal(mm.child.exitCode, null, 'mm-process exited');
    const health = await getHealth(mm.port);
    assert.equal(health.status, 200);
    assert.ok(isAllUp(health.body));
  });

  it('processes a redelivered envelope once', async () => {
    const envelope = {
      id: '3a7b9c1d-2e4f-4a6b-8c0d-1e2f3a4b5c6d',
      type: 'memory_failure',
      version: 1,
      failureId: '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b',
      causationId: null,
      occurredAt: '2026-11-23T02:00:00.000Z',
      source: 'stack.int-spec',
      data: { pfn: '0x2080a0', mfFlags: 0x23, currentPid: 4242 },
    };
    const value = JSON.stringify(envelope);
    await producer?.send({
      topic: topicName(topicPrefix, Topics.MM_MEMORY_FAILURE),
      messages: [
        { key: 'dax0.0', value },
        { key: 'dax0.0', value },
      ],
    });

    const mm = service('mm-process');
    const received = (): string[] => mm.lines.filter((line) => line.includes(`mm.memory_failure.received failureId=${envelope.failureId} id=${envelope.id}`));
    await waitFor(
      'the duplicate to be skipped',
      () => (mm.lines.some((line) => line.includes(`messaging.duplicate_skipped topic=mm.memory_failure.v1 id=${envelope.id}`)) ? true : undefined),
      30_000,
    ).catch(failWithLogs);
    assert.equal(received().length, 1);

    const db = new Client({ connectionString: database?.url });
    await db.connect();
    try {
      const { rows } = await db.query('SELECT consumer, topic FROM processed_message WHERE message_id = $1', [envelope.id]);
      assert.deepEqual(rows, [{ consumer: `${topicPrefix}mm-process`, topic: Topics.MM_MEMORY_FAILURE }]);
    } finally {
      await db.end();
    }
  });
});

describe('service configuration', () => {
  it('a bad setting stops each service with one line naming it and exit code 1', () => {
    for (const name of SERVICES) {
      const result = spawnSync(process.execPath, [path.join(REPO_ROOT, 'services', name, 'dist', 'main.js')], {
        env: serviceEnvWithoutTelemetry({ HTTP_PORT: 'seventy', KAFKA_BROKERS: '127.0.0.1', DATABASE_URL: 'mysql://db/x' }),
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(result.status, 1, `${name}: ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.equal(
        result.stderr,
        `${name}: invalid configuration: KAFKA_BROKERS.0: expected host:port; DATABASE_URL: expected a postgresql:// URL; ` +
          'HTTP_PORT: Invalid input: expected number, received NaN\n',
      );
    }
  });
});
