/**
 * One allocation group's reverse-mapping btree (fs/xfs/libxfs/xfs_rmap_btree.c) and the
 * reference counts of its shared data extents (xfs_refcount_btree.c), as the model needs them.
 *
 * The rmapbt is an overlapping btree: records are keyed (startblock, owner, offset) and every
 * node also carries the highest key below it, so xfs_btree_overlapped_query_range() prunes a
 * subtree whose high key ends before the query's low end. Here the records are kept in key
 * order in columns (typed arrays: no object per record), with an implicit tree over them
 * whose nodes hold the highest last block below them — the same pruning, so a query costs
 * O(log n + k·log n) whatever the record lengths, one 2^21-block record included.
 *
 * The refcount btree keeps, for the data extents only, the disjoint ranges whose blocks more
 * than one record maps, with that count: a block's reference count is one lookup, no owner
 * list is built.
 *
 * State is plain data: the records (in key order) are the whole state; `toRecords()` /
 * `XfsRmapBtree.fromRecords()` round-trip it, and the derived indexes are rebuilt on demand.
 */
import {
  XFS_RMAP_ATTR_FORK,
  XFS_RMAP_BMBT_BLOCK,
  xfsRmapCompare,
  xfsRmapNonInodeOwner,
  type XfsRmapIrec,
} from './rmap';

const EMPTY_F64 = new Float64Array(0);

/** Block numbers as numbers: u32 columns while every block fits (AG blocks are u32 on disk), else f64. */
type BlockColumn = Uint32Array | Float64Array;

function blockColumn(n: number, max: number): BlockColumn {
  return max <= 0xffff_ffff ? new Uint32Array(n) : new Float64Array(n);
}

/** Disjoint ranges [start, end] (AG blocks) of data blocks mapped by ≥ 2 records, with the count. */
export class XfsRefcountBtree {
  constructor(
    readonly start: Float64Array,
    readonly end: Float64Array,
    readonly refcount: Uint32Array,
  ) {}

  get length(): number {
    return this.start.length;
  }

  /** xfs_refcount_lookup_le + get_rec: the count of the shared range holding agbno, or 0 if unshared. */
  lookup(agbno: number): number {
    let lo = 0;
    let hi = this.start.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.start[mid] as number) <= agbno) lo = mid + 1;
      else hi = mid;
    }
    const i = lo - 1;
    if (i < 0 || (this.end[i] as number) < agbno) return 0;
    return this.refcount[i] as number;
  }

  /**
   * Builds it from the data extents' first blocks (ascending) and last blocks (any order): a
   * sweep over the +1 / −1 events, keeping the stretches covered at least twice.
   */
  static fromExtents(starts: Float64Array, lasts: Float64Array): XfsRefcountBtree {
    const ends = Float64Array.from(lasts, (x) => x + 1).sort();
    const outStart: number[] = [];
    const outEnd: number[] = [];
    const outCount: number[] = [];
    let depth = 0;
    let i = 0;
    let j = 0;
    let pos = 0;
    while (i < starts.length || j < ends.length) {
      const next = i < starts.length && (starts[i] as number) < (ends[j] ?? Infinity) ? (starts[i] as number) : (ends[j] as number);
      if (depth >= 2 && next > pos) {
        const last = outEnd.length - 1;
        // Adjacent stretches with the same count are one refcount record.
        if (last >= 0 && outEnd[last] === pos - 1 && outCount[last] === depth) outEnd[last] = next - 1;
        else {
          outStart.push(pos);
          outEnd.push(next - 1);
          outCount.push(depth);
        }
      }
      while (i < starts.length && starts[i] === next) {
        depth++;
        i++;
      }
      while (j < ends.length && ends[j] === next) {
        depth--;
        j++;
      }
      pos = next;
    }
    return new XfsRefcountBtree(Float64Array.from(outStart), Float64Array.from(outEnd), Uint32Array.from(outCount));
  }
}

function isMetadata(owner: bigint, flags: number): boolean {
  return xfsRmapNonInodeOwner(owner) || (flags & (XFS_RMAP_ATTR_FORK | XFS_RMAP_BMBT_BLOCK)) !== 0;
}

export class XfsRmapBtree {
  private n = 0;
  private startblock: BlockColumn = EMPTY_F64;
  private blockcount: BlockColumn = EMPTY_F64;
  private owner: BigUint64Array = new BigUint64Array(0);
  private offset: BigUint64Array = new BigUint64Array(0);
  private flags: Uint8Array = new Uint8Array(0);
  /** Implicit tree: leaves at [size, size+n), node i holds the highest last block below it. */
  private high: BlockColumn = EMPTY_F64;
  private size = 1;
  private refc: XfsRefcountBtree | null = null;
  /** Records inserted since the last build (xfs_rmap_map() at run time: tests only). */
  private pending: XfsRmapIrec[] = [];

  /** Builds the btree from records in any order (bulk load, as xfs_repair's rebuild does). */
  static fromRecords(records: Iterable<XfsRmapIrec>): XfsRmapBtree {
    const bt = new XfsRmapBtree();
    bt.load([...records]);
    return bt;
  }

  /**
   * Bulk load from columns already in key order (the fast path for big synthetic filesystems):
   * startblock/blockcount as numbers, owner/offset as u64, flags. The arrays are kept.
   */
  static fromSortedColumns(c: { startblock: BlockColumn; blockcount: BlockColumn; owner: BigUint64Array; offset: BigUint64Array; flags: Uint8Array }): XfsRmapBtree {
    const bt = new XfsRmapBtree();
    bt.n = c.startblock.length;
    bt.startblock = c.startblock;
    bt.blockcount = c.blockcount;
    bt.owner = c.owner;
    bt.offset = c.offset;
    bt.flags = c.flags;
    bt.buildIndex();
    return bt;
  }

  private load(records: XfsRmapIrec[]): void {
    let sorted = true;
    for (let i = 1; i < records.length && sorted; i++) sorted = xfsRmapCompare(records[i - 1] as XfsRmapIrec, records[i] as XfsRmapIrec) <= 0;
    if (!sorted) records.sort(xfsRmapCompare);
    const n = records.length;
    this.n = n;
    let max = 0;
    for (const r of records) {
      const last = Number(r.startblock + r.blockcount);
      if (last > max) max = last;
    }
    this.startblock = blockColumn(n, max);
    this.blockcount = blockColumn(n, max);
    this.owner = new BigUint64Array(n);
    this.offset = new BigUint64Array(n);
    this.flags = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const r = records[i] as XfsRmapIrec;
      this.startblock[i] = Number(r.startblock);
      this.blockcount[i] = Number(r.blockcount);
      this.owner[i] = r.owner;
      this.offset[i] = r.offset;
      this.flags[i] = r.flags;
    }
    this.buildIndex();
  }

  private buildIndex(): void {
    const n = this.n;
    let size = 1;
    while (size < n) size <<= 1;
    this.size = size;
    let max = 0;
    for (let i = 0; i < n; i++) {
      // An empty record (blockcount 0) ends before it starts: −1 at block 0 needs f64.
      const last = this.blockcount[i] === 0 ? Infinity : (this.startblock[i] as number) + (this.blockcount[i] as number);
      if (last > max) max = last;
    }
    // Empty leaves (past n) hold 0: they are never reported, the walk stops at n.
    const high = blockColumn(2 * size, max);
    for (let i = 0; i < n; i++) high[size + i] = (this.startblock[i] as number) + (this.blockcount[i] as number) - 1;
    for (let i = size - 1; i >= 1; i--) {
      const l = high[2 * i] as number;
      const r = high[2 * i + 1] as number;
      high[i] = l > r ? l : r;
    }
    this.high = high;
    this.refc = null;
    this.walkStack = null;
  }

  /** Applies pending inserts (rebuilds: inserts only happen in tests). */
  private settle(): void {
    if (this.pending.length === 0) return;
    const all: XfsRmapIrec[] = [];
    for (let i = 0; i < this.n; i++) all.push(this.record(i));
    all.push(...this.pending);
    this.pending = [];
    this.load(all);
  }

  /** Number of records. */
  get length(): number {
    return this.n + this.pending.length;
  }

  /** Adds records (xfs_rmap_map); the key order is restored before the next query. */
  insert(...records: XfsRmapIrec[]): number {
    this.pending.push(...records);
    return this.length;
  }

  /** Array-style alias of insert(): the btree keeps key order whatever end a record is added at. */
  push(...records: XfsRmapIrec[]): number {
    return this.insert(...records);
  }

  /** Array-style alias of insert(). */
  unshift(...records: XfsRmapIrec[]): number {
    return this.insert(...records);
  }

  private record(i: number): XfsRmapIrec {
    return {
      startblock: BigInt(this.startblock[i] as number),
      blockcount: BigInt(this.blockcount[i] as number),
      owner: this.owner[i] as bigint,
      offset: this.offset[i] as bigint,
      flags: this.flags[i] as number,
    };
  }

  /** Every record in key order (the state, for encoding or a full scan). */
  *records(): Generator<XfsRmapIrec> {
    this.settle();
    for (let i = 0; i < this.n; i++) yield this.record(i);
  }

  [Symbol.iterator](): Generator<XfsRmapIrec> {
    return this.records();
  }

  toRecords(): XfsRmapIrec[] {
    return [...this.records()];
  }

  /** How many records start at or before agbno. */
  private upper(agbno: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.startblock[mid] as number) <= agbno) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Calls fn(i) for every record index overlapping [low, high], in key order: the records that
   * start at or before high, pruned by the tree's high keys against low.
   */
  private overlapped(low: number, high: number, fn: (i: number) => void): void {
    const u = this.upper(high);
    if (u === 0) return;
    const tree = this.high;
    // Depth-first, left to right, over nodes whose leaf range starts below u: node i covers
    // leaves [first, first + width). The stack holds (node, first, width) triples.
    const stack = this.stack();
    let sp = 0;
    stack[sp++] = 1;
    stack[sp++] = 0;
    stack[sp++] = this.size;
    while (sp > 0) {
      const width = stack[--sp] as number;
      const first = stack[--sp] as number;
      const node = stack[--sp] as number;
      if (first >= u || (tree[node] as number) < low) continue;
      if (width === 1) {
        fn(first);
        continue;
      }
      const half = width >> 1;
      stack[sp++] = 2 * node + 1;
      stack[sp++] = first + half;
      stack[sp++] = half;
      stack[sp++] = 2 * node;
      stack[sp++] = first;
      stack[sp++] = half;
    }
  }

  private walkStack: Float64Array | null = null;

  /** Scratch stack for overlapped(): depth ≤ log2(size) + 1, two children pushed per level. */
  private stack(): Float64Array {
    const need = 3 * (2 * (Math.log2(this.size) + 2));
    if (!this.walkStack || this.walkStack.length < need) this.walkStack = new Float64Array(need);
    return this.walkStack;
  }

  /**
   * xfs_rmap_query_range() with overlapping semantics: every record overlapping [low, high]
   * (AG blocks, inclusive), in key order.
   */
  queryRange(low: bigint, high: bigint): XfsRmapIrec[] {
    this.settle();
    const out: XfsRmapIrec[] = [];
    this.overlapped(Number(low), Number(high), (i) => out.push(this.record(i)));
    return out;
  }

  /** The refcount btree of this AG's data extents, built on first use. */
  refcountBtree(): XfsRefcountBtree {
    this.settle();
    if (this.refc) return this.refc;
    let m = 0;
    for (let i = 0; i < this.n; i++) if (!isMetadata(this.owner[i] as bigint, this.flags[i] as number)) m++;
    const starts = new Float64Array(m);
    const lasts = new Float64Array(m);
    for (let i = 0, j = 0; i < this.n; i++) {
      if (isMetadata(this.owner[i] as bigint, this.flags[i] as number)) continue;
      starts[j] = this.startblock[i] as number;
      lasts[j] = (this.startblock[i] as number) + (this.blockcount[i] as number) - 1;
      j++;
    }
    this.refc = XfsRefcountBtree.fromExtents(starts, lasts);
    return this.refc;
  }

  /**
   * How many data records (file data, not metadata, attr or bmbt blocks) map agbno: the
   * refcount btree answers for shared blocks; an unshared block has at most one, found by a
   * one-block overlapped query.
   */
  refcount(agbno: bigint): number {
    const b = Number(agbno);
    const shared = this.refcountBtree().lookup(b);
    if (shared > 0) return shared;
    let count = 0;
    this.overlapped(b, b, (i) => {
      if (!isMetadata(this.owner[i] as bigint, this.flags[i] as number)) count++;
    });
    return count;
  }

  /** Bytes held by the columns and the index (for benchmarks). */
  byteLength(): number {
    const refc = this.refc ? this.refc.start.byteLength * 2 + this.refc.refcount.byteLength : 0;
    return this.startblock.byteLength + this.blockcount.byteLength + this.owner.byteLength + this.offset.byteLength + this.flags.byteLength + this.high.byteLength + refc;
  }
}
