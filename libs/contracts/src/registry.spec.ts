import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseEnvelope } from './registry';
import { ALL_TOPICS, callTopic, replyTopic, Topics, topicName } from './topics';

const INCIDENT = '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11';
const valid = {
  id: '0f8e1c52-7d3b-4a10-8c55-1e2f3a4b5c04',
  type: 'hop_call',
  version: 1,
  failureId: INCIDENT,
  causationId: null,
  occurredAt: '2026-11-23T02:00:00.000Z',
  source: 'pmem-driver',
  data: {
    run: 'r1',
    id: `${INCIDENT}.0.1`,
    op: 'dax.daxHolderNotifyFailure',
    args: '{"daxDev":"pmem0","offset":{"$n":"4096"},"len":{"$n":"4096"},"mfFlags":35}',
    ctx: { current: 100 },
    chain: `${INCIDENT}.0.1`,
    from: 'pmem',
  },
};

function reasonFor(value: unknown): string {
  const result = parseEnvelope(Topics.DAX_CALL, value);
  assert.equal(result.ok, false);
  return result.ok ? '' : result.reason;
}

describe('parseEnvelope', () => {
  it('accepts a valid call envelope', () => {
    assert.equal(parseEnvelope(Topics.DAX_CALL, valid).ok, true);
  });

  it('rejects a type that belongs to another topic', () => {
    assert.match(reasonFor({ ...valid, type: 'hop_reply' }), /^schema: type:/);
  });

  it('names an unknown version as such', () => {
    assert.match(reasonFor({ ...valid, version: 2 }), /^unknown version: dax\.call\.v1 carries hop_call v1, got v2/);
  });

  it('rejects a call id that is not derived from an incident, naming the path', () => {
    assert.match(reasonFor({ ...valid, data: { ...valid.data, id: 'x.1' } }), /data\.id/);
  });

  it('rejects an op outside the five subsystems', () => {
    assert.match(reasonFor({ ...valid, data: { ...valid.data, op: 'ext4.thing' } }), /data\.op/);
  });

  it('rejects unknown envelope fields such as trace context', () => {
    assert.match(reasonFor({ ...valid, traceparent: '00-abc' }), /Unrecognized key/);
  });

  it('parses a reply with a panic', () => {
    const reply = { ...valid, type: 'hop_reply', data: { run: 'r1', id: `${INCIDENT}.0`, chain: INCIDENT, result: null, panic: 'Memory failure on page 1', from: 'mm' } };
    assert.equal(parseEnvelope(Topics.USER_REPLY, reply).ok, true);
  });

  it('never throws on non-objects', () => {
    for (const value of [null, 42, 'x', [], undefined]) {
      assert.equal(parseEnvelope(Topics.MM_REPLY, value).ok, false);
    }
  });
});

describe('topics', () => {
  it('lists a call and a reply topic per subsystem, the user reply topic, and their dead-letter twins', () => {
    assert.equal(ALL_TOPICS.length, 22);
    assert.ok(ALL_TOPICS.includes('mm.call.v1.dlq'));
    assert.equal(callTopic('xfs'), 'xfs.call.v1');
    assert.equal(replyTopic('user'), 'user.reply.v1');
  });

  it('prefixes names verbatim', () => {
    assert.equal(topicName('run42.', Topics.PMEM_CALL), 'run42.pmem.call.v1');
    assert.equal(topicName('', 'pmem.call.v1.dlq'), 'pmem.call.v1.dlq');
  });
});
