import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Producer, ProducerRecord } from 'kafkajs';

import { Topics } from '@mfsim/contracts';

import { derivedMessageId } from './message-id';
import { ContractViolationError, EnvelopePublisher } from './publisher';

function recordingPublisher(): { publisher: EnvelopePublisher; sent: ProducerRecord[] } {
  const sent: ProducerRecord[] = [];
  const producer = {
    send: async (record: ProducerRecord) => {
      sent.push(record);
      return [];
    },
  } as unknown as Producer;
  const publisher = new EnvelopePublisher({
    producer,
    topicPrefix: 'run1.',
    source: 'pmem-driver',
    now: () => new Date('2026-11-23T02:00:00.000Z'),
    newId: () => '11111111-2222-4333-8444-555555555555',
  });
  return { publisher, sent };
}

const cause = { id: '0f8e1c52-7d3b-4a10-8c55-1e2f3a4b5c03', failureId: '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11' };
const data = { run: 'r1', id: '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11.0', op: 'dax.daxHolderNotifyFailure', args: '{}', ctx: { current: 4242 }, chain: '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11.0', from: 'pmem' as const };

describe('EnvelopePublisher', () => {
  it('wraps the payload in the envelope and sends it keyed to the prefixed topic', async () => {
    const { publisher, sent } = recordingPublisher();
    const envelope = await publisher.publish({ topic: Topics.DAX_CALL, key: 'dax0.0', data, causedBy: cause });
    assert.deepEqual(envelope, {
      id: derivedMessageId(cause.id, Topics.DAX_CALL),
      type: 'hop_call',
      version: 1,
      failureId: cause.failureId,
      causationId: cause.id,
      occurredAt: '2026-11-23T02:00:00.000Z',
      source: 'pmem-driver',
      data,
    });
    assert.equal(sent[0]?.topic, 'run1.dax.call.v1');
    assert.equal(sent[0]?.messages[0]?.key, 'dax0.0');
    assert.deepEqual(JSON.parse(String(sent[0]?.messages[0]?.value)), envelope);
    assert.equal(sent[0]?.messages[0]?.headers, undefined);
  });

  it('gives a republished message the same id, and distinct discriminators distinct ids', async () => {
    const { publisher } = recordingPublisher();
    const publish = (discriminator?: string) =>
      publisher.publish({ topic: Topics.DAX_CALL, key: 'dax0.0', data, causedBy: cause, ...(discriminator ? { discriminator } : {}) });
    const [first, again, other] = await Promise.all([publish(), publish(), publish('range-2')]);
    assert.equal(first.id, again.id);
    assert.notEqual(first.id, other.id);
    assert.match(first.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('uses a fresh id and a null causationId for a failure entering the stack', async () => {
    const { publisher } = recordingPublisher();
    const envelope = await publisher.publish({
      topic: Topics.MM_CALL,
      key: 'dax0.0',
      data: { ...data, op: 'mm.madviseInjectError', from: 'user' as const },
      causedBy: { id: null, failureId: cause.failureId },
    });
    assert.equal(envelope.id, '11111111-2222-4333-8444-555555555555');
    assert.equal(envelope.causationId, null);
  });

  it('refuses to send data its contract rejects', async () => {
    const { publisher, sent } = recordingPublisher();
    await assert.rejects(
      publisher.publish({
        topic: Topics.DAX_CALL,
        key: 'dax0.0',
        data: { ...data, id: 'not-a-call-id' },
        causedBy: cause,
      }),
      ContractViolationError,
    );
    assert.equal(sent.length, 0);
  });
});
