/**
 * Hop boundaries: with nothing run at them a call's result and the final state are the bus's;
 * the boundaries come in pairs, one before and one after each cross-subsystem call.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { outcomeToJson } from './outcome';
import { parseScenario } from './parse-scenario';
import { runScenario } from './run-scenario';

const REPO = join(__dirname, '../../..');

describe('runScenario inside (hop boundaries)', () => {
  it('a host with nothing inside it runs as on the bus and counts its boundaries', () => {
    const file = 'scenarios/examples/03-reflinked-block-two-owners.yaml';
    const parsed = parseScenario(readFileSync(join(REPO, file), 'utf8'), file);
    assert.ok(parsed.ok);
    const plain = runScenario(parsed.scenario, undefined, { trace: 'none' });
    const hosts = new Map(parsed.scenario.injections.map((_, i) => [i, []] as const));
    const counted = runScenario(parsed.scenario, undefined, { trace: 'none', inside: hosts });
    assert.deepEqual(outcomeToJson({ ...counted.outcome, incidents: [] }), outcomeToJson({ ...plain.outcome, incidents: [] }));
    assert.deepEqual(
      counted.injections.map((r) => r.rc),
      plain.injections.map((r) => r.rc),
    );
    for (const r of counted.injections) {
      assert.ok(r.boundaries !== undefined && r.boundaries > 0 && r.boundaries % 2 === 0, `${r.injection.id}: ${r.boundaries}`);
      assert.ok(r.sent !== undefined && r.sent >= 0);
    }
    assert.equal(
      counted.injections.reduce((n, r) => n + (r.sent ?? 0), 0),
      counted.outcome.signals.length,
    );
  });
});
