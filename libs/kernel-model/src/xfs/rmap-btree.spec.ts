/**
 * Property-based: the rmapbt's overlapped query and refcounts give the same answers as a
 * plain scan of the records, on random AGs (short, long and 2^21-block records, shared
 * blocks, metadata) and random ranges.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../prng';
import { XFS_RMAP_ATTR_FORK, XFS_RMAP_BMBT_BLOCK, XFS_RMAP_OWN, xfsRmapCompare, xfsRmapIsMetadata, xfsRmapQueryRange, type XfsRmapIrec } from './rmap';
import { XfsRefcountBtree, XfsRmapBtree } from './rmap-btree';

function randomAg(rng: Prng, n: number, agBlocks: number): XfsRmapIrec[] {
  const recs: XfsRmapIrec[] = [];
  const owners = [...Array.from({ length: 8 }, (_, i) => BigInt(100 + i)), XFS_RMAP_OWN.OWN_FS, XFS_RMAP_OWN.OWN_INODES, XFS_RMAP_OWN.OWN_COW];
  for (let i = 0; i < n; i++) {
    const shape = rng.int(0, 9);
    const len = shape === 0 ? 1 << 21 : shape < 3 ? rng.int(1, 4096) : rng.int(1, 16);
    const start = rng.int(0, Math.max(0, agBlocks - len));
    const flags = rng.pick([0, 0, 0, 0, XFS_RMAP_ATTR_FORK, XFS_RMAP_BMBT_BLOCK]);
    recs.push({ startblock: BigInt(start), blockcount: BigInt(Math.min(len, agBlocks - start)), owner: rng.pick(owners), offset: BigInt(rng.int(0, 1 << 20)), flags });
  }
  return recs;
}

function reference(recs: XfsRmapIrec[], low: bigint, high: bigint): XfsRmapIrec[] {
  return recs.filter((r) => r.startblock <= high && r.startblock + r.blockcount - 1n >= low).sort(xfsRmapCompare);
}

function refcountRef(recs: XfsRmapIrec[], agbno: bigint): number {
  return recs.filter((r) => !xfsRmapIsMetadata(r) && r.startblock <= agbno && agbno < r.startblock + r.blockcount).length;
}

describe('XfsRmapBtree: overlapped query = plain scan (seeded random)', () => {
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8]) {
    it(`seed ${seed}: random records and ranges`, () => {
      const rng = new Prng(seed);
      const agBlocks = rng.pick([64, 4096, 1 << 22]);
      const recs = randomAg(rng, rng.int(0, 400), agBlocks);
      const bt = XfsRmapBtree.fromRecords(recs);
      const sorted = [...recs].sort(xfsRmapCompare);
      assert.deepEqual(bt.toRecords(), sorted);
      for (let q = 0; q < 300; q++) {
        const a = BigInt(rng.int(0, agBlocks + 10));
        const b = rng.int(0, 3) === 0 ? a : BigInt(rng.int(0, agBlocks + 10));
        const [low, high] = a <= b ? [a, b] : [b, a];
        assert.deepEqual(bt.queryRange(low, high), reference(recs, low, high), `[${low}, ${high}]`);
        assert.deepEqual(xfsRmapQueryRange(sorted, low, high), reference(recs, low, high));
        assert.equal(bt.refcount(low), refcountRef(recs, low), `refcount(${low})`);
      }
    });
  }

  it('inserts after the build are found in key order (xfs_rmap_map at run time)', () => {
    const rng = new Prng(42);
    const recs = randomAg(rng, 200, 4096);
    const bt = XfsRmapBtree.fromRecords(recs.slice(0, 100));
    bt.unshift(...recs.slice(100, 150));
    bt.push(...recs.slice(150));
    assert.equal(bt.length, 200);
    for (let q = 0; q < 200; q++) {
      const low = BigInt(rng.int(0, 4096));
      const high = low + BigInt(rng.int(0, 64));
      assert.deepEqual(bt.queryRange(low, high), reference(recs, low, high));
      assert.equal(bt.refcount(low), refcountRef(recs, low));
    }
  });

  it('a 2^21-block record is found from anywhere in it, and does not hide its neighbours', () => {
    const long: XfsRmapIrec = { startblock: 0n, blockcount: 1n << 21n, owner: 200n, offset: 0n, flags: 0 };
    const recs = [long, ...Array.from({ length: 1000 }, (_, i) => ({ startblock: BigInt(i * 4096), blockcount: 1n, owner: 300n + BigInt(i), offset: 0n, flags: 0 }))];
    const bt = XfsRmapBtree.fromRecords(recs);
    assert.deepEqual(bt.queryRange(2_000_000n, 2_000_000n), [long]);
    assert.deepEqual(bt.queryRange(4096n * 999n, 4096n * 999n), reference(recs, 4096n * 999n, 4096n * 999n));
    assert.equal(bt.refcount(8192n), 2);
  });
});

describe('XfsRefcountBtree: shared ranges = counting every block (seeded random)', () => {
  for (const seed of [11, 12, 13]) {
    it(`seed ${seed}`, () => {
      const rng = new Prng(seed);
      const n = rng.int(1, 60);
      const ext = Array.from({ length: n }, () => {
        const s = rng.int(0, 200);
        return [s, s + rng.int(0, 30)] as const;
      }).sort((a, b) => a[0] - b[0]);
      const rc = XfsRefcountBtree.fromExtents(Float64Array.from(ext, (e) => e[0]), Float64Array.from(ext, (e) => e[1]));
      for (let b = 0; b < 240; b++) {
        const count = ext.filter(([s, e]) => s <= b && b <= e).length;
        assert.equal(rc.lookup(b), count >= 2 ? count : 0, `block ${b}`);
      }
      for (let i = 1; i < rc.length; i++) {
        assert.ok((rc.start[i] as number) > (rc.end[i - 1] as number), 'disjoint, in order');
        const adjacent = rc.start[i] === (rc.end[i - 1] as number) + 1;
        assert.ok(!adjacent || rc.refcount[i] !== rc.refcount[i - 1], 'merged');
      }
    });
  }
});
