import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';

import { runScenarioDistributed } from './distributed';
import { parseScenario } from './parse-scenario';
import { renderRun } from './render';
import { SimCluster } from './sim-cluster';
import { incidentRootSpanId, incidentTraceId, incidentTraceparent } from './trace-id';

describe('the trace id of an incident', () => {
  const id = '3F2B9C1E-8d4a-4b7e-9a61-0c5d2e7f4a10';

  it('is its uuid without dashes, lowercase', () => {
    assert.equal(incidentTraceId(id), '3f2b9c1e8d4a4b7e9a610c5d2e7f4a10');
  });

  it('is undefined for what is not an incident uuid (and for the nil uuid, an invalid trace id)', () => {
    for (const bad of ['', 'model-1', 'i0', '3f2b9c1e8d4a4b7e9a610c5d2e7f4a10', `${id}.1`, '00000000-0000-0000-0000-000000000000']) {
      assert.equal(incidentTraceId(bad), undefined, bad);
    }
  });

  it('starts the root call as a sampled W3C traceparent, the same at every resend', () => {
    assert.equal(incidentTraceparent(id), '00-3f2b9c1e8d4a4b7e9a610c5d2e7f4a10-9a610c5d2e7f4a10-01');
    assert.equal(incidentTraceparent(id), incidentTraceparent(id.toLowerCase()));
    assert.equal(incidentTraceparent('model-1'), undefined);
    // A parent span id must not be all zeros.
    assert.equal(incidentRootSpanId('0123456789abcdef0000000000000000'), '0000000000000001');
  });
});

describe('a distributed run reports each incident under its trace id, and prints the link', () => {
  const file = resolve(__dirname, '../../..', 'scenarios/examples/03-reflinked-block-two-owners.yaml');

  it('outcome traceId = the incident uuid without dashes; renderRun ends each incident with its link', async () => {
    const parsed = parseScenario(readFileSync(file, 'utf8'), file);
    assert.ok(parsed.ok);
    const run = await runScenarioDistributed(parsed.scenario, new SimCluster());
    assert.ok(run.pass);
    assert.ok(run.outcome.incidents.length > 0);
    for (const i of run.outcome.incidents) assert.equal(i.traceId, i.incident.replace(/-/g, ''));

    const link = (id: string): string => `http://127.0.0.1:9411/zipkin/traces/${incidentTraceId(id) ?? '?'}`;
    const text = renderRun(run, { color: false, verbose: false, traceLink: link });
    const first = run.outcome.incidents[0]!;
    const lines = text.split('\n');
    const at = lines.indexOf(`  trace http://127.0.0.1:9411/zipkin/traces/${first.traceId}`);
    assert.ok(at > 0, text);
    // The link closes the incident's block: the next line is blank (the next incident or the verdict).
    assert.equal(lines[at + 1], '');
    assert.ok(!renderRun(run, { color: false, verbose: false }).includes('trace http'), 'no link without a trace backend');
  });
});
