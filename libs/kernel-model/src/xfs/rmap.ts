/**
 * The XFS reverse map (fs/xfs/libxfs/xfs_rmap.h, xfs_format.h): one record per owner of each
 * physical extent, per allocation group, kept in key order (startblock, owner, offset).
 */
import { U64_MAX } from '../units';
import type { XfsRmapBtree } from './rmap-btree';

/** XFS_RMAP_OWN_* — negative numbers stored in a u64, so bit 63 marks a non-inode owner. */
export const XFS_RMAP_OWN = {
  OWN_NULL: U64_MAX, // -1
  OWN_UNKNOWN: U64_MAX - 1n, // -2
  OWN_FS: U64_MAX - 2n, // -3
  OWN_LOG: U64_MAX - 3n, // -4
  OWN_AG: U64_MAX - 4n, // -5
  OWN_INOBT: U64_MAX - 5n, // -6
  OWN_INODES: U64_MAX - 6n, // -7
  OWN_REFC: U64_MAX - 7n, // -8
  OWN_COW: U64_MAX - 8n, // -9
} as const;
export type XfsRmapOwnerName = keyof typeof XFS_RMAP_OWN;

export const XFS_RMAP_ATTR_FORK = 1 << 0;
export const XFS_RMAP_BMBT_BLOCK = 1 << 1;
export const XFS_RMAP_UNWRITTEN = 1 << 2;

/** XFS_RMAP_NON_INODE_OWNER(): bit 63 of the owner. */
export function xfsRmapNonInodeOwner(owner: bigint): boolean {
  return (owner & (1n << 63n)) !== 0n;
}

export function xfsRmapOwnerName(owner: bigint): string {
  if (!xfsRmapNonInodeOwner(owner)) return `ino ${owner}`;
  const hit = (Object.keys(XFS_RMAP_OWN) as XfsRmapOwnerName[]).find((k) => XFS_RMAP_OWN[k] === owner);
  return hit ?? `owner 0x${owner.toString(16)}`;
}

export interface XfsRmapIrec {
  /** AG-relative start block. */
  readonly startblock: bigint;
  readonly blockcount: bigint;
  readonly owner: bigint;
  /** File block offset (0 for metadata and bmbt records). */
  readonly offset: bigint;
  readonly flags: number;
}

export function xfsRmapIsMetadata(rec: XfsRmapIrec): boolean {
  return xfsRmapNonInodeOwner(rec.owner) || (rec.flags & (XFS_RMAP_ATTR_FORK | XFS_RMAP_BMBT_BLOCK)) !== 0;
}

/** The rmapbt key order: startblock, then owner (unsigned), then offset. */
export function xfsRmapCompare(a: XfsRmapIrec, b: XfsRmapIrec): number {
  if (a.startblock !== b.startblock) return a.startblock < b.startblock ? -1 : 1;
  if (a.owner !== b.owner) return a.owner < b.owner ? -1 : 1;
  if (a.offset !== b.offset) return a.offset < b.offset ? -1 : 1;
  return a.flags - b.flags;
}

/**
 * xfs_rmap_query_range() with overlapping semantics: every record of the AG (in key order)
 * that overlaps [low, high] (AG blocks, inclusive). An AG's rmap is an `XfsRmapBtree`
 * (rmap-btree.ts: O(log n + k) whatever the record lengths); a plain array of records in key
 * order is scanned whole, which is the reference the btree is tested against.
 */
export function xfsRmapQueryRange(records: XfsRmapBtree | readonly XfsRmapIrec[], low: bigint, high: bigint): XfsRmapIrec[] {
  if (!Array.isArray(records)) return (records as XfsRmapBtree).queryRange(low, high);
  const out: XfsRmapIrec[] = [];
  for (const r of records as readonly XfsRmapIrec[]) {
    if (r.startblock > high) break;
    if (r.startblock + r.blockcount - 1n >= low) out.push(r);
  }
  return out;
}
