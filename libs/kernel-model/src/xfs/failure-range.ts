/**
 * Unit conversions of fs/xfs/xfs_notify_failure.c: dax offset → device-relative range →
 * basic blocks → fs blocks → (AG, agbno), and an rmap record → the file pages it covers.
 */
import type { Errno } from '../errno';
import { btobb, PAGE_SHIFT, SECTOR_SIZE, u64, U64_MAX } from '../units';
import type { XfsRmapIrec } from './rmap';

export interface XfsBuftargGeometry {
  /** bt_dax_part_off, bytes. */
  readonly daxPartOff: bigint;
  /** bt_nr_sectors. */
  readonly nrSectors: bigint;
}

/**
 * Models xfs_dax_translate_range() (current upstream). (0, U64_MAX) means the whole device.
 * Arithmetic is u64 like the kernel's, including quirk Q3: the partition-relative end is
 * compared with the absolute device end, so a range running past a partition's end is not
 * clipped exactly.
 */
export function xfsDaxTranslateRange(
  btp: XfsBuftargGeometry,
  offsetIn: bigint,
  lenIn: bigint,
): { daddr: bigint; bblen: bigint } | { error: Errno } {
  const devStart = btp.daxPartOff;
  const devLen = btp.nrSectors * SECTOR_SIZE;
  const devEnd = u64(devStart + devLen - 1n);
  let offset = offsetIn;
  let len = lenIn;
  if (offset === 0n && len === U64_MAX) {
    offset = devStart;
    len = devLen;
  }
  if (u64(offset + len - 1n) < devStart) return { error: 'ENXIO' };
  if (offset > devEnd) return { error: 'ENXIO' };
  if (offset > devStart) {
    offset = u64(offset - devStart);
  } else {
    len = u64(len - (devStart - offset));
    offset = 0n;
  }
  if (u64(offset + len - 1n) > devEnd) len = u64(devEnd - offset + 1n);
  return { daddr: btobb(offset), bblen: btobb(len) };
}

/** The part of an AG the walk notifies: [startblock, startblock + blockcount). */
export interface XfsFailureInfo {
  readonly startblock: bigint;
  readonly blockcount: bigint;
}

/** Models xfs_failure_pgoff(): the file page of the first failed block of this record. */
export function xfsFailurePgoff(blockSize: bigint, rec: XfsRmapIrec, notify: XfsFailureInfo): bigint {
  let pos = rec.offset * blockSize;
  if (notify.startblock > rec.startblock) pos += (notify.startblock - rec.startblock) * blockSize;
  return pos >> PAGE_SHIFT;
}

/** Models xfs_failure_pgcnt(): how many file pages of this record failed. */
export function xfsFailurePgcnt(blockSize: bigint, rec: XfsRmapIrec, notify: XfsFailureInfo): bigint {
  const endRec = rec.startblock + rec.blockcount;
  const endNotify = notify.startblock + notify.blockcount;
  const endCross = endRec < endNotify ? endRec : endNotify;
  const startCross = rec.startblock > notify.startblock ? rec.startblock : notify.startblock;
  return ((endCross - startCross) * blockSize) >> PAGE_SHIFT;
}
