import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareOutcome } from './compare';
import type { Outcome } from './outcome';

function outcomeWith(signals: Outcome['signals']): Outcome {
  return { injections: {}, signals, actionResults: [], filesystems: {}, devices: {}, pages: [], ptes: [], incidents: [] };
}
const AR = (addr: bigint) => ({ pid: 100, signo: 'SIGBUS' as const, code: 'BUS_MCEERR_AR' as const, addr, lsb: 12 });

describe('compareOutcome: signals as a multiset', () => {
  it('matches regardless of order', () => {
    const o = outcomeWith([AR(0x2000n), AR(0x1000n)]);
    const e = [AR(0x1000n), AR(0x2000n)].map((s) => ({ ...s }));
    assert.deepEqual(compareOutcome({ signals: e }, o), []);
  });
  it('finds the matching when a wildcard expectation comes before an exact one', () => {
    const o = outcomeWith([AR(0x1000n), AR(0x2000n)]);
    const wildcard = { pid: 100, signo: 'SIGBUS' as const, code: 'BUS_MCEERR_AR' as const, addr: undefined, lsb: 12 };
    assert.deepEqual(compareOutcome({ signals: [wildcard, { ...AR(0x1000n) }] }, o), []);
  });
  it('reports a missing and an extra signal', () => {
    const o = outcomeWith([AR(0x1000n), AR(0x3000n)]);
    const m = compareOutcome({ signals: [{ ...AR(0x1000n) }, { ...AR(0x2000n) }] }, o);
    assert.deepEqual(m.map((x) => x.path), ['signals[1]', 'signals']);
    assert.deepEqual(m[1]?.actual, { pid: 100, signo: 'SIGBUS', code: 'BUS_MCEERR_AR', addr: '0x3000', lsb: 12 });
  });
  it('counts duplicates: two identical signals need two expectations', () => {
    const o = outcomeWith([AR(0x1000n), AR(0x1000n)]);
    assert.equal(compareOutcome({ signals: [{ ...AR(0x1000n) }] }, o).length, 1);
  });
});
