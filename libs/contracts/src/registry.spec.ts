import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseEnvelope } from './registry';
import { ALL_TOPICS, Topics, topicName } from './topics';

const valid = {
  id: '0f8e1c52-7d3b-4a10-8c55-1e2f3a4b5c04',
  type: 'dax_holder_notify_failure',
  version: 1,
  failureId: '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11',
  causationId: null,
  occurredAt: '2026-11-23T02:00:00.000Z',
  source: 'pmem-driver',
  data: { daxDev: 'dax0.0', offsetBytes: '4096', lenBytes: '4096', mfFlags: 0x23, currentPid: null },
};

function reasonFor(value: unknown): string {
  const result = parseEnvelope(Topics.DAX_HOLDER_NOTIFY_FAILURE, value);
  assert.equal(result.ok, false);
  return result.ok ? '' : result.reason;
}

describe('parseEnvelope', () => {
  it('accepts a valid notify_failure envelope', () => {
    assert.equal(parseEnvelope(Topics.DAX_HOLDER_NOTIFY_FAILURE, valid).ok, true);
  });

  it('rejects a type that belongs to another topic', () => {
    assert.match(reasonFor({ ...valid, type: 'xfs_dax_notify_failure' }), /^schema: type:/);
  });

  it('rejects a u64 sent as a JSON number, naming the path', () => {
    assert.match(reasonFor({ ...valid, data: { ...valid.data, offsetBytes: 4096 } }), /data\.offsetBytes/);
  });

  it('rejects a u64 above U64_MAX', () => {
    assert.match(reasonFor({ ...valid, data: { ...valid.data, lenBytes: '18446744073709551616' } }), /out of range/);
  });

  it('rejects an upper-case pfn', () => {
    const result = parseEnvelope(Topics.MM_MEMORY_FAILURE, {
      ...valid,
      type: 'memory_failure',
      data: { pfn: '0x2080A0', mfFlags: 0, currentPid: null },
    });
    assert.equal(result.ok, false);
  });

  it('rejects unknown envelope fields such as trace context', () => {
    assert.match(reasonFor({ ...valid, traceparent: '00-abc' }), /Unrecognized key/);
  });

  it('never throws on non-objects', () => {
    for (const value of [null, 42, 'x', [], undefined]) {
      assert.equal(parseEnvelope(Topics.MM_ACTION_RESULT, value).ok, false);
    }
  });
});

describe('topics', () => {
  it('lists every topic and its dead-letter twin', () => {
    assert.equal(ALL_TOPICS.length, 16);
    assert.ok(ALL_TOPICS.includes('mm.action_result.v1.dlq'));
  });

  it('prefixes names verbatim', () => {
    assert.equal(topicName('run42.', Topics.PMEM_UNBIND), 'run42.pmem.unbind.v1');
    assert.equal(topicName('', 'pmem.unbind.v1.dlq'), 'pmem.unbind.v1.dlq');
  });
});
