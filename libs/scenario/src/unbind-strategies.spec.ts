/**
 * The device-removal strategies (unbindStrategy: rmap, pfn-walk, inode-walk) reach the same
 * final state on every shipped scenario that unbinds a device: the same rcs, shutdowns,
 * devices, PTEs, HWPoison pages, action results and signals — signals compared as a multiset,
 * since each walk finds the pages in its own order.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parseScenario } from './parse-scenario';
import { runScenario, type RunIds } from './run-scenario';
import type { Outcome } from './outcome';

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

function finalState(o: Outcome): unknown {
  const key = (s: Outcome['signals'][number]): string => `${s.pid} ${s.signo} ${s.code} ${s.addr} ${s.lsb}`;
  return { ...o, signals: o.signals.map(key).sort() };
}

describe('unbind strategies reach the same final state', () => {
  const files = yamlFiles(join(REPO, 'scenarios')).filter((f) => /^\s+unbind:/m.test(readFileSync(f, 'utf8')));
  it('finds the unbind scenarios', () => assert.ok(files.length >= 5, `${files.length}`));
  for (const file of files) {
    it(file.slice(REPO.length + 1), () => {
      const parsed = parseScenario(readFileSync(file, 'utf8'), file);
      assert.ok(parsed.ok);
      const upstream = runScenario(parsed.scenario, fixedIds(), { trace: 'none' });
      assert.ok(upstream.pass);
      for (const unbindStrategy of ['pfn-walk', 'inode-walk'] as const) {
        const run = runScenario({ ...parsed.scenario, unbindStrategy }, fixedIds(), { trace: 'none' });
        assert.deepEqual(finalState(run.outcome), finalState(upstream.outcome), unbindStrategy);
      }
    });
  }
});
