import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';

import { KafkaMessage } from 'kafkajs';

import { EnvelopeOf, Topics } from '@mfsim/contracts';

import { DeadLetter, DeadLetterHeaders } from './dead-letter';
import { IdempotencyKey, IdempotencyStore } from './idempotency';
import { deadLetterKind, MessageProcessor, type MessagingObserver } from './message-processor';

const PREFIX = 't1.';
const TOPIC = Topics.DAX_CALL;

const envelope: EnvelopeOf<typeof TOPIC> = {
  id: '0f8e1c52-7d3b-4a10-8c55-1e2f3a4b5c04',
  type: 'hop_call',
  version: 1,
  failureId: '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11',
  causationId: null,
  occurredAt: '2026-11-23T02:00:00.000Z',
  source: 'pmem-driver',
  data: { run: 'r1', id: '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11.0', op: 'dax.daxHolderNotifyFailure', args: '{}', ctx: { current: 4242 }, chain: '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11.0', from: 'pmem' },
};

function message(value: string | null, offset = '7'): KafkaMessage {
  return {
    key: Buffer.from('dax0.0'),
    value: value === null ? null : Buffer.from(value),
    headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
    offset,
    timestamp: '0',
    attributes: 0,
  };
}

class MemoryIdempotencyStore implements IdempotencyStore {
  readonly seen = new Set<string>();
  async runOnce<T>(key: IdempotencyKey, fn: (tx: unknown) => Promise<T>): Promise<{ duplicate: boolean; result?: T }> {
    const id = `${key.consumer}/${key.topic}/${key.messageId}`;
    if (this.seen.has(id)) {
      return { duplicate: true };
    }
    const result = await fn('tx');
    this.seen.add(id);
    return { duplicate: false, result };
  }
}

describe('MessageProcessor', () => {
  let handled: EnvelopeOf<typeof TOPIC>[];
  let deadLetters: DeadLetter[];
  let failHandler: Error | undefined;
  let processor: MessageProcessor;
  const silent = { log: () => undefined, warn: () => undefined, error: () => undefined };

  beforeEach(() => {
    handled = [];
    deadLetters = [];
    failHandler = undefined;
    processor = new MessageProcessor({
      groupId: `${PREFIX}dax-core`,
      topicPrefix: PREFIX,
      handlers: {
        [TOPIC]: async (received, context) => {
          if (failHandler) throw failHandler;
          assert.equal(context.tx, 'tx');
          handled.push(received);
        },
      },
      idempotency: new MemoryIdempotencyStore(),
      sendDeadLetter: async (deadLetter) => {
        deadLetters.push(deadLetter);
      },
      logger: silent,
    });
  });

  it('hands a valid envelope to the topic handler', async () => {
    assert.equal(await processor.process(`${PREFIX}${TOPIC}`, 0, message(JSON.stringify(envelope))), 'handled');
    assert.deepEqual(handled, [envelope]);
  });

  it('runs the handler once for a redelivered envelope id', async () => {
    const value = JSON.stringify(envelope);
    await processor.process(`${PREFIX}${TOPIC}`, 0, message(value, '7'));
    assert.equal(await processor.process(`${PREFIX}${TOPIC}`, 0, message(value, '8')), 'duplicate');
    assert.equal(handled.length, 1);
  });

  it('dead-letters invalid JSON with the original bytes, key, headers and a reason', async () => {
    const original = message('{not json', '42');
    assert.equal(await processor.process(`${PREFIX}${TOPIC}`, 3, original), 'dead_lettered');
    const [deadLetter] = deadLetters;
    assert.equal(deadLetter?.topic, `${PREFIX}${TOPIC}.dlq`);
    assert.deepEqual(deadLetter?.message.value, original.value);
    assert.deepEqual(deadLetter?.message.key, original.key);
    const headers = deadLetter?.message.headers ?? {};
    assert.match(String(headers[DeadLetterHeaders.REASON]), /^json: /);
    assert.equal(headers[DeadLetterHeaders.TOPIC], `${PREFIX}${TOPIC}`);
    assert.equal(headers[DeadLetterHeaders.PARTITION], '3');
    assert.equal(headers[DeadLetterHeaders.OFFSET], '42');
    assert.equal(headers.traceparent, original.headers?.traceparent);
    assert.equal(handled.length, 0);
  });

  it('dead-letters a schema violation naming the field, without calling the handler', async () => {
    const bad = { ...envelope, data: { ...envelope.data, ctx: { current: 'x' } } };
    await processor.process(`${PREFIX}${TOPIC}`, 0, message(JSON.stringify(bad)));
    assert.match(String(deadLetters[0]?.message.headers?.[DeadLetterHeaders.REASON]), /data\.ctx\.current/);
    assert.equal(handled.length, 0);
  });

  it('dead-letters an empty value', async () => {
    await processor.process(`${PREFIX}${TOPIC}`, 0, message(null));
    assert.equal(deadLetters[0]?.message.headers?.[DeadLetterHeaders.REASON], 'empty message value');
  });

  it('rethrows a handler failure so the message is redelivered, and processes it on redelivery', async () => {
    failHandler = new Error('connection terminated');
    const value = JSON.stringify(envelope);
    await assert.rejects(processor.process(`${PREFIX}${TOPIC}`, 0, message(value)), /connection terminated/);
    assert.equal(deadLetters.length, 0);
    failHandler = undefined;
    assert.equal(await processor.process(`${PREFIX}${TOPIC}`, 0, message(value)), 'handled');
  });

  it('lists the topics it has handlers for', () => {
    assert.deepEqual(processor.subscribedTopics(), [TOPIC]);
  });

  it('tells its observer each outcome and each dead letter by kind (for the metrics)', async () => {
    const seen: string[] = [];
    const observer: MessagingObserver = {
      consumed: (topic, outcome) => void seen.push(`consumed ${topic} ${outcome}`),
      deadLettered: (topic, kind) => void seen.push(`dlq ${topic} ${kind}`),
    };
    const observed = new MessageProcessor({
      groupId: `${PREFIX}dax-core`,
      topicPrefix: PREFIX,
      handlers: { [TOPIC]: async () => undefined },
      idempotency: new MemoryIdempotencyStore(),
      sendDeadLetter: async () => undefined,
      logger: silent,
      observer,
    });
    const value = JSON.stringify(envelope);
    await observed.process(`${PREFIX}${TOPIC}`, 0, message(value, '1'));
    await observed.process(`${PREFIX}${TOPIC}`, 0, message(value, '2'));
    await observed.process(`${PREFIX}${TOPIC}`, 0, message('{not json', '3'));
    await observed.process(`${PREFIX}${TOPIC}`, 0, message(null, '4'));
    await observed.process(`${PREFIX}${TOPIC}`, 0, message(JSON.stringify({ ...envelope, version: 9 }), '5'));
    await observed.process(`${PREFIX}${TOPIC}`, 0, message(JSON.stringify({ ...envelope, data: {} }), '6'));
    assert.deepEqual(seen, [
      `consumed ${TOPIC} handled`,
      `consumed ${TOPIC} duplicate`,
      `dlq ${TOPIC} json`,
      `consumed ${TOPIC} dead_lettered`,
      `dlq ${TOPIC} empty`,
      `consumed ${TOPIC} dead_lettered`,
      `dlq ${TOPIC} unknown_version`,
      `consumed ${TOPIC} dead_lettered`,
      `dlq ${TOPIC} schema`,
      `consumed ${TOPIC} dead_lettered`,
    ]);
    assert.equal(observed.logicalTopic(`${PREFIX}${TOPIC}`), TOPIC);
    assert.equal(observed.logicalTopic(`other.${TOPIC}`), undefined);
  });

  it('deadLetterKind: a small fixed set of reasons', () => {
    assert.equal(deadLetterKind('empty message value'), 'empty');
    assert.equal(deadLetterKind('json: Unexpected token'), 'json');
    assert.equal(deadLetterKind('unknown version: dax.call.v1 carries hop_call v1, got v9'), 'unknown_version');
    assert.equal(deadLetterKind('data.ctx.current: expected number'), 'schema');
  });
});
