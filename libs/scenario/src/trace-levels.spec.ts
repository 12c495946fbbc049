/**
 * Trace levels change what is kept, never what happens: every shipped scenario reaches the
 * same outcome with full traces, a summary or none, and the summary counts what the full
 * tree holds.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import type { TraceNode } from '@mfsim/kernel-model';
import { parseScenario } from './parse-scenario';
import { runScenario, type RunIds } from './run-scenario';

const REPO = resolve(__dirname, '../../..');

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return name === 'invalid' || name === 'chaos' ? [] : yamlFiles(p);
      return /\.ya?ml$/.test(name) ? [p] : [];
    });
}

function fixedIds(): RunIds {
  let n = 0;
  return { incidentId: () => `i${n++}`, traceId: () => `t${n++}` };
}

function count(node: TraceNode, acc = { calls: 0, logs: 0 }): { calls: number; logs: number } {
  if (node.kind === 'log') acc.logs++;
  else {
    acc.calls++;
    for (const c of node.children) count(c, acc);
  }
  return acc;
}

describe('trace levels: same outcome, less kept', () => {
  const files = yamlFiles(join(REPO, 'scenarios'));
  it('finds the suite', () => assert.ok(files.length > 50));
  for (const file of files) {
    it(file.slice(REPO.length + 1), () => {
      const parsed = parseScenario(readFileSync(file, 'utf8'), file);
      assert.ok(parsed.ok);
      const full = runScenario(parsed.scenario, fixedIds(), { trace: 'full', setupTrace: 'full' });
      const summary = runScenario(parsed.scenario, fixedIds(), { trace: 'summary' });
      const none = runScenario(parsed.scenario, fixedIds(), { trace: 'none' });
      assert.deepEqual(summary.outcome, full.outcome);
      assert.deepEqual(none.outcome, full.outcome);
      assert.equal(none.setupTraces.length, 0, 'set-up traces are not kept unless asked');
      full.injections.forEach((inj, i) => {
        const s = summary.injections[i];
        if (!inj.trace) return assert.equal(s?.trace, null);
        assert.equal(s?.trace?.children.length, 0);
        assert.deepEqual({ calls: s?.summary?.calls, logs: s?.summary?.logs }, count(inj.trace));
      });
    });
  }
});
