/**
 * The in-core extent map of an inode's data fork (fs/xfs/libxfs/xfs_iext_tree.c): extents
 * kept in file-offset order so xfs_iext_lookup_extent() finds the extent holding a file block,
 * or the next one after a hole, by binary search.
 *
 * An inode's `extents` stay the plain array the state holds (in any order; a file's extents
 * are disjoint in file offset); the offset-ordered copy is derived once per array.
 */
import type { XfsExtent, XfsInode } from './xfs';

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
