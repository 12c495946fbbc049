/** Property-based: xfs_iext_lookup_extent() = a scan of the extent list, on random files. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../prng';
import { XfsIextTree, xfsIextLookupExtent } from './iext-tree';
import type { XfsExtent } from './xfs';

describe('iext tree lookup = scanning the extents (seeded random)', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`seed ${seed}`, () => {
      const rng = new Prng(seed);
      const extents: XfsExtent[] = [];
      let off = 0;
      for (let i = rng.int(0, 80); i > 0; i--) {
        off += rng.int(0, 5);
        const count = rng.int(1, 9);
        extents.push({ offset: BigInt(off), block: BigInt(rng.int(0, 1e6)), count: BigInt(count) });
        off += count;
      }
      // Files list their extents in any order.
      for (let i = extents.length - 1; i > 0; i--) {
        const j = rng.int(0, i);
        [extents[i], extents[j]] = [extents[j] as XfsExtent, extents[i] as XfsExtent];
      }
      const tree = XfsIextTree.from(extents);
      assert.equal(tree.length, extents.length);
      for (let fb = 0n; fb < BigInt(off + 10); fb++) {
        const got = extents.find((e) => e.offset <= fb && fb < e.offset + e.count) ?? null;
        const next = extents.filter((e) => e.offset > fb).reduce<XfsExtent | null>((m, e) => (m === null || e.offset < m.offset ? e : m), null);
        assert.deepEqual(xfsIextLookupExtent({ extents }, fb), { got, next }, `block ${fb}`);
        assert.deepEqual(xfsIextLookupExtent({ extents: tree }, fb), { got, next }, `tree, block ${fb}`);
      }
    });
  }
});
