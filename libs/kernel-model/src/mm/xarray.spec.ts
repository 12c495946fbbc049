/**
 * Property-based: the xarray's range walk = filtering and sorting every entry, and
 * daxEntriesInRange() = looking up every index in turn, under random stores and erases.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../prng';
import { PG_PMD_NR } from '../units';
import { createMmState, daxEntriesInRange, entriesOf, lookupDaxEntry, type DaxEntry } from './mm-state';
import { Xarray } from './xarray';

describe('Xarray range walk = filter + sort (seeded random)', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`seed ${seed}`, () => {
      const rng = new Prng(seed);
      const xa = new Xarray<number>();
      const ref = new Map<bigint, number>();
      for (let step = 0; step < 3000; step++) {
        const k = BigInt(rng.int(0, 500));
        const op = rng.int(0, 9);
        if (op < 5) {
          xa.set(k, step);
          ref.set(k, step);
        } else if (op < 8) {
          assert.equal(xa.delete(k), ref.delete(k));
        } else {
          const a = BigInt(rng.int(0, 520));
          const b = a + BigInt(rng.int(0, 80));
          const want = [...ref].filter(([i]) => i >= a && i <= b).sort((x, y) => (x[0] < y[0] ? -1 : 1));
          assert.deepEqual([...xa.range(a, b)], want);
        }
        assert.equal(xa.size, ref.size);
      }
      assert.deepEqual(new Map(xa), ref);
    });
  }
});

describe('daxEntriesInRange = lookupDaxEntry on every index (PTE and PMD entries)', () => {
  for (const seed of [5, 6, 7]) {
    it(`seed ${seed}`, () => {
      const rng = new Prng(seed);
      const mm = createMmState({ sysctl: { memoryFailureEarlyKill: 0, memoryFailureRecovery: 1 }, hwpoisonFilter: false });
      const xa = entriesOf(mm, 'xfs0:1');
      for (let i = 0; i < 60; i++) {
        if (rng.int(0, 3) === 0) {
          const index = BigInt(rng.int(0, 7)) * PG_PMD_NR;
          xa.set(index, { index, pfn: index + 0x1000n, pmd: true, zero: rng.int(0, 4) === 0 });
        } else {
          const index = BigInt(rng.int(0, 8 * 512));
          xa.set(index, { index, pfn: index + 0x9000n, pmd: false, zero: false });
        }
      }
      for (let q = 0; q < 100; q++) {
        const first = BigInt(rng.int(0, 4200));
        const last = first + BigInt(rng.int(0, 1500));
        const want: [bigint, DaxEntry][] = [];
        for (let i = first; i <= last; i++) {
          const e = lookupDaxEntry(mm, 'xfs0:1', i);
          if (e) want.push([i, e]);
        }
        const got: [bigint, DaxEntry][] = [];
        for (const span of daxEntriesInRange(mm, 'xfs0:1', first, last)) for (let i = span.first; i <= span.last; i++) got.push([i, span.entry]);
        assert.deepEqual(got, want, `[${first}, ${last}]`);
      }
    });
  }
});
