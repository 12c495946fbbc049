/**
 * The five services against real servers (TestStack: Kafka from MFSIM_TEST_KAFKA_BROKERS, a fresh
 * migrated PostgreSQL database, this test's own topic/group/Redis prefixes), each started as it is
 * deployed. Health, dead-lettering on every topic, bad input to the APIs, bad configuration.
 *
 * Needs `npm run build` first: it starts services/<name>/dist/main.js.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Consumer, KafkaMessage, Producer } from 'kafkajs';

import { dlqTopic, topicName, TOPICS } from '@mfsim/contracts';
import { DeadLetterHeaders } from '@mfsim/messaging';
import { REPO_ROOT, serviceEnvWithoutTelemetry, STACK_SERVICES, testKafka, TestStack, waitFor } from '@mfsim/testing';

const INCIDENT = '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11';

function envelopeFor(topic: string, version: number): Record<string, unknown> {
  const reply = topic.includes('.reply.');
  return {
    id: '0f8e1c52-7d3b-4a10-8c55-1e2f3a4b5c01',
    type: reply ? 'hop_reply' : 'hop_call',
    version,
    failureId: INCIDENT,
    causationId: null,
    occurredAt: '2026-12-05T02:00:00.000Z',
    source: 'stack.int-spec',
    data: reply
      ? { run: 'nosuchrun', id: `${INCIDENT}.0`, chain: INCIDENT, result: null, panic: null, error: null, from: 'mm' }
      : { run: 'nosuchrun', id: INCIDENT, op: 'mm.hwpoisonInject', args: '{"pfn":{"$n":"1"}}', ctx: { current: null }, chain: INCIDENT, from: 'user' },
  };
}

describe('stack of five services', { timeout: 300_000 }, () => {
  let stack: TestStack;
  let producer: Producer | undefined;
  const consumers: Consumer[] = [];

  before(async () => {
    stack = await TestStack.start();
    producer = testKafka(`${stack.id}-producer`).producer();
    await producer.connect();
  });

  after(async () => {
    for (const consumer of consumers) await consumer.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    await stack?.stop();
  });

  it('every service answers /health 200 with kafka, postgres and redis up', async () => {
    for (const s of stack.services) {
      const response = await fetch(`http://127.0.0.1:${s.port}/health`);
      assert.equal(response.status, 200);
      assert.deepEqual(await response.json(), {
        status: 'ok',
        service: s.name,
        checks: { kafka: { status: 'up' }, postgres: { status: 'up' }, redis: { status: 'up' } },
      });
    }
  });

  it('dead-letters a malformed message and one of an unknown version on every topic, with the reason, and goes on serving', async () => {
    // The user reply topic is the CLI's: no service consumes it.
    const served = TOPICS.filter((t) => t !== 'user.reply.v1');
    const dead = new Map<string, KafkaMessage[]>();
    const consumer = testKafka(`${stack.id}-dlq`).consumer({ groupId: `${stack.topicPrefix}test-dlq`, maxWaitTimeInMs: 200 });
    consumers.push(consumer);
    await consumer.connect();
    await consumer.subscribe({ topics: served.map((t) => topicName(stack.topicPrefix, dlqTopic(t))), fromBeginning: true });
    await consumer.run({ eachMessage: async ({ topic, message }) => void dead.set(topic, [...(dead.get(topic) ?? []), message]) });

    for (const topic of served) {
      await producer?.send({
        topic: topicName(stack.topicPrefix, topic),
        messages: [
          { key: 'k', value: Buffer.from('{"id": not json') },
          { key: 'k', value: JSON.stringify(envelopeFor(topic, 2)) },
        ],
      });
    }
    await waitFor(
      'two dead letters on every topic',
      () => (served.every((t) => (dead.get(topicName(stack.topicPrefix, dlqTopic(t)))?.length ?? 0) >= 2) ? true : undefined),
      60_000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${stack.logs()}`);
    });
    for (const topic of served) {
      const [json, version] = dead.get(topicName(stack.topicPrefix, dlqTopic(topic))) ?? [];
      assert.match(String(json?.headers?.[DeadLetterHeaders.REASON]), /^json: /, topic);
      assert.match(String(version?.headers?.[DeadLetterHeaders.REASON]), new RegExp(`^unknown version: ${topic.replace(/\./g, '\\.')} carries hop_(call|reply) v1, got v2`), topic);
      assert.equal(String(json?.headers?.[DeadLetterHeaders.TOPIC]), topicName(stack.topicPrefix, topic));
    }
    for (const s of stack.services) assert.equal(s.child.exitCode, null, `${s.name} exited`);

    // ...and the next good call is served: debugfs corrupt-pfn of a pfn no namespace holds.
    for (const s of stack.services) {
      const r = await fetch(`http://127.0.0.1:${s.port}/runs/good`, { method: 'POST', body: '{"entities": []}', headers: { 'content-type': 'application/json' } });
      assert.equal(r.status, 204);
    }
    const replies: KafkaMessage[] = [];
    const replyConsumer = testKafka(`${stack.id}-reply`).consumer({ groupId: `${stack.topicPrefix}test-reply`, maxWaitTimeInMs: 200 });
    consumers.push(replyConsumer);
    await replyConsumer.connect();
    await replyConsumer.subscribe({ topic: topicName(stack.topicPrefix, 'user.reply.v1'), fromBeginning: true });
    await replyConsumer.run({ eachMessage: async ({ message }) => void replies.push(message) });
    const good = { ...envelopeFor('mm.call.v1', 1), id: '0f8e1c52-7d3b-4a10-8c55-1e2f3a4b5c02' } as unknown as { data: Record<string, unknown> };
    good.data = { ...good.data, run: 'good' };
    await producer?.send({ topic: topicName(stack.topicPrefix, 'mm.call.v1'), messages: [{ key: 'k', value: JSON.stringify(good) }] });
    const reply = await waitFor('the reply to the good call', () => replies[0], 30_000);
    const data = (JSON.parse(String(reply.value)) as { data: { id: string; result: string } }).data;
    assert.deepEqual([data.id, data.result], [INCIDENT, '"ENXIO"']);
  });

  it('answers bad API input with a clear 4xx', async () => {
    const xfs = `http://127.0.0.1:${stack.service('xfs-fs').port}`;
    const badRun = await fetch(`${xfs}/runs/no%20such!/state`);
    assert.equal(badRun.status, 400);
    assert.match(((await badRun.json()) as { message: string }).message, /run id "no such!" is not 1-64 letters/);
    const unknown = await fetch(`${xfs}/runs/nosuchrun/state`);
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { message: string }).message, 'unknown run nosuchrun: nothing was set up for it here');
    const badBody = await fetch(`${xfs}/runs/r1`, { method: 'POST', body: '{"entities": 3}', headers: { 'content-type': 'application/json' } });
    assert.equal(badBody.status, 400);
    const badIncident = await fetch(`${xfs}/runs/r1/calls?incident=x`);
    assert.equal(badIncident.status, 400);
  });

  it('logs a call for a run nobody set up once and drops it, without a stack trace', async () => {
    const mm = stack.service('mm-process');
    await producer?.send({ topic: topicName(stack.topicPrefix, 'mm.call.v1'), messages: [{ key: 'k', value: JSON.stringify(envelopeFor('mm.call.v1', 1)) }] });
    await waitFor('the unknown-run warning', () => (mm.lines.some((l) => l.includes('hop.unknown_run run=nosuchrun')) ? true : undefined), 30_000);
    assert.ok(!mm.lines.some((l) => /^\s+at /.test(l)), 'a stack trace in the log');
  });
});

describe('service configuration', () => {
  it('a bad setting stops each service with one line naming it and exit code 1', () => {
    for (const name of STACK_SERVICES) {
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

