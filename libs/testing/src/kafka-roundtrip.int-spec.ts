/**
 * Smoke test of kafkajs 2.2.4 against the real broker: produce, consume in a group, commit, and
 * resume from the committed offset after the consumer restarts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Admin, Consumer, Partitioners, Producer } from 'kafkajs';

import { sleep } from '@mfsim/stack';

import { uniqueId } from './env';
import { createTestTopics, deleteTestGroups, deleteTestTopics, testKafka } from './topics';

/** Resolves once `values` has at least `count` entries; rejects after `timeoutMs`. */
async function waitForCount(values: string[], count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (values.length < count) {
    if (Date.now() > deadline) throw new Error(`got ${values.length} of ${count} messages in ${timeoutMs} ms: ${JSON.stringify(values)}`);
    await sleep(50);
  }
}

describe('kafkajs on the test broker', () => {
  const kafka = testKafka('mfsim-testing-roundtrip');
  const prefix = `${uniqueId('it-kafka')}.`;
  const groupId = `${prefix}group`;
  let admin: Admin;
  let producer: Producer;
  let topic: string;
  const consumers: Consumer[] = [];

  before(async () => {
    admin = kafka.admin();
    await admin.connect();
    [topic] = (await createTestTopics(admin, prefix, ['roundtrip'])) as [string];
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
  });

  after(async () => {
    for (const c of consumers) await c.disconnect().catch(() => undefined);
    await producer?.disconnect().catch(() => undefined);
    if (admin) {
      await deleteTestGroups(admin, prefix).catch(() => undefined);
      const deleted = await deleteTestTopics(admin, prefix);
      assert.deepEqual(deleted, [topic]);
      await admin.disconnect();
    }
  });

  /** A consumer in `groupId` that commits each message's offset itself, right after reading it. */
  async function startConsumer(received: string[]): Promise<Consumer> {
    // A short fetch wait: disconnect() waits for the fetch in flight (default up to 5 s).
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 250, retry: { retries: 10 } });
    consumers.push(consumer);
    await consumer.connect();
    // fromBeginning only applies without a committed offset: the restart below proves it.
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic: t, partition, message }) => {
        received.push(message.value?.toString() ?? '');
        await consumer.commitOffsets([{ topic: t, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      },
    });
    return consumer;
  }

  it('delivers to a group and resumes from the committed offset after a restart', { timeout: 90_000 }, async () => {
    await producer.send({ topic, messages: ['m1', 'm2', 'm3'].map((value) => ({ key: 'dev0', value })) });

    const first: string[] = [];
    const consumerA = await startConsumer(first);
    await waitForCount(first, 3, 30_000);
    assert.deepEqual(first, ['m1', 'm2', 'm3']);
    await consumerA.disconnect();

    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    assert.equal(offsets[0]?.partitions[0]?.offset, '3');

    await producer.send({ topic, messages: ['m4', 'm5'].map((value) => ({ key: 'dev0', value })) });

    const second: string[] = [];
    const consumerB = await startConsumer(second);
    await waitForCount(second, 2, 30_000);
    // Give a wrongly re-delivered m1..m3 the time to show up.
    await sleep(1_500);
    await consumerB.disconnect();
    assert.deepEqual(second, ['m4', 'm5']);
  });
});
