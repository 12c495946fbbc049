/**
 * The in-core extent map of an inode's data fork (fs/xfs/libxfs/xfs_iext_tree.c): extents
 * kept in file-offset order so xfs_iext_lookup_extent() finds the extent holding a file block,
 * or the next one after a hole, by binary search.
 *
 * An inode's `extents` stay the plain array the state holds (in any order; a file's extents
 * are disjoint in file offset); the offset-ordered copy is derived once per array.
 */
import type { XfsExtent, XfsInode } from './xfs';

/**
 * A compact in-core extent map: one Float64Array of (offset, block, count) triples in file
 * offset order — an inode's `extents` may be this instead of an array of objects (a big
 * machine's millions of extents then cost 24 bytes each). Plain data: `toExtents()` /
 * `XfsIextTree.from()` round-trip it.
 */
export class XfsIextTree implements Iterable<XfsExtent> {
  private constructor(private readonly triples: Float64Array) {}

  /** From extents in any order (a file's extents are disjoint in file offset). */
  static from(extents: Iterable<XfsExtent>): XfsIextTree {
    const sorted = [...extents].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
    const t = new Float64Array(sorted.length * 3);
    sorted.forEach((e, i) => {
      t[3 * i] = Number(e.offset);
      t[3 * i + 1] = Number(e.block);
      t[3 * i + 2] = Number(e.count);
    });
    return new XfsIextTree(t);
  }

  /** From (offset, block, count) triples already in file-offset order; the array is kept. */
  static fromTriples(triples: Float64Array): XfsIextTree {
    return new XfsIextTree(triples);
  }

  get length(): number {
    return this.triples.length / 3;
  }

  at(i: number): XfsExtent {
    const t = this.triples;
    return { offset: BigInt(t[3 * i] as number), block: BigInt(t[3 * i + 1] as number), count: BigInt(t[3 * i + 2] as number) };
  }

  /** The index of the last extent starting at or before bno, or −1. */
  private lastAtOrBefore(bno: number): number {
    let lo = 0;
    let hi = this.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.triples[3 * mid] as number) <= bno) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** xfs_iext_lookup_extent(): the extent holding bno (or null) and the next one after bno. */
  lookup(bno: bigint): { got: XfsExtent | null; next: XfsExtent | null } {
    const b = Number(bno);
    const i = this.lastAtOrBefore(b);
    const next = i + 1 < this.length ? this.at(i + 1) : null;
    if (i >= 0 && b < (this.triples[3 * i] as number) + (this.triples[3 * i + 2] as number)) return { got: this.at(i), next };
    return { got: null, next };
  }

  *[Symbol.iterator](): Generator<XfsExtent> {
    for (let i = 0; i < this.length; i++) yield this.at(i);
  }

  toExtents(): XfsExtent[] {
    return [...this];
  }

  byteLength(): number {
    return this.triples.byteLength;
  }
}

const byOffset = new WeakMap<readonly XfsExtent[], readonly XfsExtent[]>();

/** The inode's extents in file-offset order (the iext tree's leaf order). */
export function xfsIextSorted(extents: readonly XfsExtent[]): readonly XfsExtent[] {
  let sorted = byOffset.get(extents);
  if (sorted) return sorted;
  let inOrder = true;
  for (let i = 1; i < extents.length && inOrder; i++) inOrder = (extents[i - 1] as XfsExtent).offset < (extents[i] as XfsExtent).offset;
  sorted = inOrder ? extents : [...extents].sort((a, b) => (a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0));
  byOffset.set(extents, sorted);
  return sorted;
}

/**
 * Models xfs_iext_lookup_extent(): `got` is the extent holding file block bno, or null in a
 * hole; `next` is the first extent starting after bno (what a hole ends at), or null.
 */
export function xfsIextLookupExtent(ip: Pick<XfsInode, 'extents'>, bno: bigint): { got: XfsExtent | null; next: XfsExtent | null } {
  if (ip.extents instanceof XfsIextTree) return ip.extents.lookup(bno);
  const sorted = xfsIextSorted(ip.extents);
  // The last extent starting at or before bno.
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as XfsExtent).offset <= bno) lo = mid + 1;
    else hi = mid;
  }
  const prev = lo > 0 ? (sorted[lo - 1] as XfsExtent) : null;
  const next = sorted[lo] ?? null;
  if (prev && bno < prev.offset + prev.count) return { got: prev, next };
  return { got: null, next };
}
