import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { trace, TraceFlags } from '@opentelemetry/api';

import { incidentTraceContext } from './incident-context';

describe('incidentTraceContext', () => {
  it('is a sampled remote parent in the incident trace: its uuid without dashes, parent = its low 64 bits', () => {
    // The same vector as libs/scenario trace-id.spec.ts (incidentTraceparent): both must agree.
    const ctx = incidentTraceContext('3F2B9C1E-8d4a-4b7e-9a61-0c5d2e7f4a10');
    assert.ok(ctx);
    assert.deepEqual(trace.getSpanContext(ctx), { traceId: '3f2b9c1e8d4a4b7e9a610c5d2e7f4a10', spanId: '9a610c5d2e7f4a10', traceFlags: TraceFlags.SAMPLED, isRemote: true });
  });

  it('is undefined for an id that is not an incident uuid', () => {
    for (const bad of ['model-1', '', '00000000-0000-0000-0000-000000000000', '3f2b9c1e-8d4a-4b7e-9a61-0c5d2e7f4a10.1']) assert.equal(incidentTraceContext(bad), undefined, bad);
  });
});
