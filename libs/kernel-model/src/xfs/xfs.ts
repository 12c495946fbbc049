/**
 * fs/xfs: a mounted XFS filesystem (and ext4, the DAX filesystem that registers no holder),
 * the notify_failure holder operation (xfs_notify_failure.c), the DAX iomap a page fault
 * asks for, and the block-layer "device is dead" callback.
 */
import { invoke, memo, printk, read, type Hop } from '../effects';
import type { Errno, Rc } from '../errno';
import { hasFlag, MF } from '../mf';
import { PAGE_SIZE, SECTOR_SHIFT, u64, U32_MAX } from '../units';
import { lookup, mappingId, type Bdev } from '../types';
import { xfsDaxTranslateRange, xfsFailurePgcnt, xfsFailurePgoff, type XfsFailureInfo } from './failure-range';
import { XfsIextTree, xfsIextLookupExtent, xfsIextSorted } from './iext-tree';
import { xfsRmapIsMetadata, xfsRmapOwnerName, type XfsRmapIrec } from './rmap';
import { XfsRmapBtree } from './rmap-btree';

/** fs/xfs/xfs_mount.h shutdown flags. */
export const SHUTDOWN = {
  SHUTDOWN_META_IO_ERROR: 0x1,
  SHUTDOWN_LOG_IO_ERROR: 0x2,
  SHUTDOWN_FORCE_UMOUNT: 0x4,
  SHUTDOWN_CORRUPT_INCORE: 0x8,
  SHUTDOWN_CORRUPT_ONDISK: 0x10,
  SHUTDOWN_DEVICE_REMOVED: 0x20,
} as const;
export type ShutdownReason = keyof typeof SHUTDOWN;

const SHUTDOWN_WHY: Record<ShutdownReason, string> = {
  SHUTDOWN_META_IO_ERROR: 'Metadata I/O Error',
  SHUTDOWN_LOG_IO_ERROR: 'Log I/O Error',
  SHUTDOWN_FORCE_UMOUNT: 'Metadata I/O Error',
  SHUTDOWN_CORRUPT_INCORE: 'Corruption of in-memory data',
  SHUTDOWN_CORRUPT_ONDISK: 'Corruption of on-disk metadata',
  SHUTDOWN_DEVICE_REMOVED: 'Block device removal',
};

export interface XfsExtent {
  /** File block. */
  readonly offset: bigint;
  /** Filesystem block, linear from the start of the data device. */
  readonly block: bigint;
  readonly count: bigint;
}

export interface XfsInode {
  readonly ino: bigint;
  readonly path: string;
  readonly kind: 'regular' | 'directory';
  /** xfs_iget(XFS_IGET_INCORE): active → found; uncached → -ENODATA; transient → -EAGAIN. */
  readonly cache: 'active' | 'uncached' | 'transient';
  /** The per-inode DAX flag (FS_XFLAG_DAX), used with dax=inode. */
  readonly daxFlag: boolean;
  /** The data fork's extents: a plain array (any order), or the compact iext tree. */
  readonly extents: readonly XfsExtent[] | XfsIextTree;
}

export interface XfsBuftarg {
  readonly bdev: Bdev;
  /** bt_daxdev: the dax_device obtained at mount, or null. */
  daxDev: string | null;
  /** bt_dax_part_off, bytes. */
  daxPartOff: bigint;
}

export interface XfsMount {
  readonly name: string;
  readonly type: 'xfs' | 'ext4';
  readonly blockSize: bigint;
  readonly agBlocks: bigint;
  readonly agCount: bigint;
  /** Filesystem size in blocks (sb_dblocks); the last AG may be short. */
  readonly dblocks: bigint;
  readonly rmapbt: boolean;
  readonly reflink: boolean;
  readonly daxMode: 'always' | 'never' | 'inode';
  readonly data: XfsBuftarg;
  readonly log: XfsBuftarg | null;
  /** Whether set-up finishes the mount (SB_BORN) or leaves it in progress. */
  readonly completesMount: boolean;
  sbBorn: boolean;
  /** The errno that refused the mount, or null. A refused mount takes no further part. */
  mountError: Errno | null;
  /** dax=always accepted by xfs_setup_dax_always(). */
  daxAlways: boolean;
  /** 0, or the flags of the first shutdown (later ones are no-ops). */
  shutdown: number;
  frozenUser: boolean;
  frozenKernel: boolean;
  readonly inodes: Map<bigint, XfsInode>;
  /** Per AG: the rmapbt (records in key order, overlapped queries, refcounts). */
  readonly rmap: XfsRmapBtree[];
}

/**
 * How a device removal (MF_MEM_PRE_REMOVE over the whole device) finds the mapped pages:
 * - 'rmap' (upstream): one overlapped rmap query over the device range, record by record;
 * - 'pfn-walk': page by page over the device range, each page's blocks looked up in the rmap
 *   as a memory_failure() of that pfn would (the walk upstream did not take: O(device size));
 * - 'inode-walk': every in-core inode's extents on the device (the other road not taken:
 *   O(inodes + extents), no rmap query).
 * All three freeze, walk, shut down FORCE_UMOUNT and thaw the same way; they differ only in
 * the order pages are found (signals are sent in that order) and in cost.
 */
export type UnbindStrategy = 'rmap' | 'pfn-walk' | 'inode-walk';

export interface XfsState {
  readonly mounts: Map<string, XfsMount>;
  /** Default 'rmap'. */
  unbindStrategy?: UnbindStrategy;
}

export function createXfsState(opts: { unbindStrategy?: UnbindStrategy } = {}): XfsState {
  return { mounts: new Map(), ...(opts.unbindStrategy && opts.unbindStrategy !== 'rmap' ? { unbindStrategy: opts.unbindStrategy } : {}) };
}

function mountOf(state: XfsState, fs: string): XfsMount {
  return lookup(state.mounts, fs, 'filesystem');
}

export function xfsAgLength(mp: XfsMount, agno: bigint): bigint {
  return agno < mp.agCount - 1n ? mp.agBlocks : mp.dblocks - (mp.agCount - 1n) * mp.agBlocks;
}

export function shutdownName(mp: XfsMount): ShutdownReason | 'none' {
  const hit = (Object.keys(SHUTDOWN) as ShutdownReason[]).find((k) => SHUTDOWN[k] === mp.shutdown);
  return hit ?? 'none';
}

/** Whether DAX is in effect for the filesystem (dax=inode: whether files may use it). */
export function xfsDaxEnabled(mp: XfsMount): boolean {
  if (mp.mountError) return false;
  if (mp.daxMode === 'always') return mp.daxAlways;
  if (mp.daxMode === 'inode') return mp.data.daxDev !== null && mp.blockSize === PAGE_SIZE;
  return false;
}

/** S_DAX on the inode: only regular files get it (xfs_inode_should_enable_dax()). */
export function xfsInodeIsDax(mp: XfsMount, ip: XfsInode): boolean {
  if (ip.kind !== 'regular' || mp.mountError) return false;
  if (mp.daxMode === 'always') return mp.daxAlways;
  if (mp.daxMode === 'inode') return ip.daxFlag && mp.data.daxDev !== null && mp.blockSize === PAGE_SIZE;
  return false;
}

/**
 * Models xfs_force_shutdown() → xfs_do_force_shutdown(): the first reason wins, later calls
 * return at once.
 */
function* xfsForceShutdown(mp: XfsMount, reason: ShutdownReason): Hop<void> {
  if (mp.shutdown !== 0) return;
  mp.shutdown = SHUTDOWN[reason];
  const tag = `XFS (${mp.name})`;
  if (reason === 'SHUTDOWN_FORCE_UMOUNT') yield* printk('xfs', 'alert', `${tag}: User initiated shutdown received.`);
  yield* printk('xfs', 'alert', `${tag}: ${SHUTDOWN_WHY[reason]} (0x${SHUTDOWN[reason].toString(16)}) detected. Shutting down filesystem.`);
}

/**
 * Mounts a filesystem: xfs_alloc_buftarg() asks fs_dax_get_by_bdev() for every device with
 * this mount as holder (whatever -o dax says), then xfs_setup_dax_always() decides dax=always.
 * ext4 asks with no holder and refuses dax=always when the device cannot do DAX.
 */
export function* xfsMount(state: XfsState, args: { fs: string }): Hop<{ mountError: Errno | null; dax: boolean }> {
  const mp = mountOf(state, args.fs);
  const tag = `${mp.type === 'xfs' ? 'XFS' : 'EXT4-fs'} (${mp.name})`;
  const holder = mp.type === 'xfs' ? { kind: 'fs' as const, name: mp.name } : null;
  // The exclusive opens of get_tree_bdev() (data) and xfs_blkdev_get() (log) come first.
  const claimed: Bdev[] = [];
  for (const bt of [mp.data, mp.log]) {
    if (!bt || bt.bdev.diskKind !== 'pmem') continue;
    const rc = yield* invoke('pmem.bdClaim', { bdev: bt.bdev, holder: `fs:${mp.name}` });
    if (rc !== 0) {
      for (const bdev of claimed) yield* invoke('pmem.bdRelease', { bdev, holder: `fs:${mp.name}` });
      mp.mountError = rc;
      yield* printk('xfs', 'err', `${tag}: cannot open ${bt.bdev.partition ?? bt.bdev.disk}: -${rc}`);
      return { mountError: rc, dax: false };
    }
    claimed.push(bt.bdev);
  }
  for (const bt of [mp.data, mp.log]) {
    if (!bt) continue;
    const got = yield* invoke('dax.fsDaxGetByBdev', { bdev: bt.bdev, holder });
    bt.daxDev = got?.daxDev ?? null;
    bt.daxPartOff = got?.partOff ?? 0n;
  }
  const error = mp.type === 'xfs' ? yield* xfsSetupDaxAlways(mp, tag) : yield* ext4SetupDax(mp, tag);
  if (error) {
    mp.mountError = error;
    for (const bt of [mp.data, mp.log]) {
      if (bt?.daxDev && holder) yield* invoke('dax.fsPutDax', { daxDev: bt.daxDev, holder });
      if (bt) bt.daxDev = null;
    }
    for (const bdev of claimed) yield* invoke('pmem.bdRelease', { bdev, holder: `fs:${mp.name}` });
    yield* printk('xfs', 'err', `${tag}: mount failed: -${error}`);
    return { mountError: error, dax: false };
  }
  if (mp.data.bdev.diskKind === 'dm') yield* invoke('dm.dmBlkdevOpen', { md: mp.data.bdev.disk, holder: mp.name });
  mp.sbBorn = mp.completesMount;
  return { mountError: null, dax: xfsDaxEnabled(mp) };
}

/** Models xfs_setup_dax_always(). */
function* xfsSetupDaxAlways(mp: XfsMount, tag: string): Hop<Errno | null> {
  if (mp.daxMode !== 'always') return null;
  if (!mp.data.daxDev) {
    yield* printk('xfs', 'alert', `${tag}: DAX unsupported by block device. Turning off DAX.`);
    mp.daxAlways = false;
    return null;
  }
  if (mp.blockSize !== PAGE_SIZE) {
    yield* printk('xfs', 'alert', `${tag}: DAX not supported for blocksize. Turning off DAX.`);
    mp.daxAlways = false;
    return null;
  }
  if (mp.reflink && mp.data.bdev.partition !== null) {
    yield* printk('xfs', 'alert', `${tag}: DAX and reflink cannot work with multi-partitions!`);
    return 'EINVAL';
  }
  yield* printk('xfs', 'warn', `${tag}: DAX enabled.`);
  mp.daxAlways = true;
  return null;
}

/** ext4_fill_super()'s dax=always checks: no DAX device or a non-page block size fails the mount. */
function* ext4SetupDax(mp: XfsMount, tag: string): Hop<Errno | null> {
  if (mp.daxMode !== 'always') return null;
  if (!mp.data.daxDev) {
    yield* printk('xfs', 'err', `${tag}: DAX unsupported by block device.`);
    return 'EINVAL';
  }
  if (mp.blockSize !== PAGE_SIZE) {
    yield* printk('xfs', 'err', `${tag}: error: unsupported blocksize for dax`);
    return 'EINVAL';
  }
  mp.daxAlways = true;
  return null;
}

/**
 * Models xfs_dax_notify_failure(), the holder operation: the mount must be complete (-EIO);
 * a failure on the external log shuts down unless it is a pre-remove; everything else goes
 * through the data device's rmap.
 */
export function* xfsDaxNotifyFailure(
  state: XfsState,
  args: { fs: string; daxDev: string; offset: bigint; len: bigint; mfFlags: number },
): Hop<Rc> {
  const mp = mountOf(state, args.fs);
  const tag = `XFS (${mp.name})`;
  if (!mp.sbBorn) {
    yield* printk('xfs', 'warn', `${tag}: filesystem is not ready for notify_failure()!`);
    return 'EIO';
  }
  if (mp.log && mp.log.daxDev === args.daxDev) return yield* xfsDaxNotifyLogdevFailure(mp, args);
  return yield* xfsDaxNotifyDevFailure(mp, args, state.unbindStrategy ?? 'rmap');
}

/** Models xfs_dax_notify_logdev_failure(); needs no rmapbt. */
function* xfsDaxNotifyLogdevFailure(mp: XfsMount, args: { offset: bigint; len: bigint; mfFlags: number }): Hop<Rc> {
  const log = mp.log as XfsBuftarg;
  const tr = xfsDaxTranslateRange({ daxPartOff: log.daxPartOff, nrSectors: log.bdev.nrSectors }, args.offset, args.len);
  if ('error' in tr) return tr.error;
  if (hasFlag(args.mfFlags, MF.MF_MEM_PRE_REMOVE)) return 0;
  yield* printk('xfs', 'err', `XFS (${mp.name}): ondisk log corrupt, shutting down fs!`);
  yield* xfsForceShutdown(mp, 'SHUTDOWN_CORRUPT_ONDISK');
  return 'EUCLEAN';
}

/** struct xfs_failure_info: what the walk collects, decided on once after it. */
interface FailureWalk {
  readonly mp: XfsMount;
  readonly mfFlags: number;
  notify: XfsFailureInfo;
  wantShutdown: boolean;
}

/**
 * Models xfs_dax_notify_dev_failure() for the data device. A failed range can straddle
 * allocation groups, so each AG's rmap is queried for its part; metadata hits only set
 * wantShutdown, so the walk still reaches every file, and the shutdown decision is made once
 * after it. With MF_MEM_PRE_REMOVE the fs is frozen around the walk, metadata is skipped and
 * the walk always ends in a FORCE_UMOUNT shutdown.
 */
function* xfsDaxNotifyDevFailure(mp: XfsMount, args: { offset: bigint; len: bigint; mfFlags: number }, strategy: UnbindStrategy = 'rmap'): Hop<Rc> {
  const tag = `XFS (${mp.name})`;
  const preRemove = hasFlag(args.mfFlags, MF.MF_MEM_PRE_REMOVE);
  if (!mp.rmapbt) {
    yield* printk('xfs', 'debug', `${tag}: notify_failure() needs rmapbt enabled!`);
    return 'EOPNOTSUPP';
  }
  const tr = xfsDaxTranslateRange({ daxPartOff: mp.data.daxPartOff, nrSectors: mp.data.bdev.nrSectors }, args.offset, args.len);
  if ('error' in tr) return tr.error;
  const bbPerBlock = mp.blockSize >> SECTOR_SHIFT;
  const startBno = tr.daddr / bbPerBlock;
  const endBno = (tr.daddr + tr.bblen - 1n) / bbPerBlock;
  if (preRemove && strategy !== 'rmap') return yield* xfsPreRemoveWalk(mp, args.mfFlags, startBno, endBno, strategy);

  let kernelFrozen = false;
  if (preRemove) {
    yield* printk('xfs', 'info', `${tag}: Device is about to be removed!`);
    kernelFrozen = (yield* xfsDaxNotifyFailureFreeze(mp)) === 0;
  }

  let error: Rc = 0;
  const walk: FailureWalk = { mp, mfFlags: args.mfFlags, notify: { startblock: 0n, blockcount: 0n }, wantShutdown: false };
  const startAg = startBno / mp.agBlocks;
  const endAg = endBno / mp.agBlocks;
  for (let agno = startAg; agno <= endAg && agno < mp.agCount; agno++) {
    // xfs_alloc_read_agf(): buffer reads fail once the fs is shut down (kernel-semantics Q5).
    if (mp.shutdown !== 0) {
      error = 'EIO';
      break;
    }
    const low = agno === startAg ? startBno % mp.agBlocks : 0n;
    const high = agno === endAg ? endBno % mp.agBlocks : U32_MAX;
    // xfs_btree_query_range() refuses low > high (a wrapped length: BTOBB(U64_MAX) is 0).
    if (low > high) {
      error = 'EINVAL';
      break;
    }
    const last = xfsAgLength(mp, agno) - 1n;
    walk.notify = { startblock: low, blockcount: (last < high ? last : high) + 1n - low };
    for (const rec of yield* read('xfs.rmapQueryRange', { fs: mp.name, agno, low, high })) {
      const rc = yield* xfsDaxFailureFn(walk, rec);
      if (rc !== 0) {
        error = rc;
        break;
      }
    }
    if (error !== 0) break;
  }

  if (preRemove) {
    yield* xfsForceShutdown(mp, 'SHUTDOWN_FORCE_UMOUNT');
  } else if (error !== 0 || walk.wantShutdown) {
    yield* xfsForceShutdown(mp, 'SHUTDOWN_CORRUPT_ONDISK');
    if (error === 0) error = 'EUCLEAN';
  }
  if (preRemove) yield* xfsDaxNotifyFailureThaw(mp, kernelFrozen);
  return error;
}

/**
 * The device-removal walks upstream does not use (UnbindStrategy): the same freeze, the same
 * xfs_dax_failure_fn() per (record, failed range), the same FORCE_UMOUNT shutdown and thaw
 * as the rmap walk — only how the pages are found differs.
 */
function* xfsPreRemoveWalk(mp: XfsMount, mfFlags: number, startBno: bigint, endBno: bigint, strategy: 'pfn-walk' | 'inode-walk'): Hop<Rc> {
  const tag = `XFS (${mp.name})`;
  yield* printk('xfs', 'info', `${tag}: Device is about to be removed!`);
  const kernelFrozen = (yield* xfsDaxNotifyFailureFreeze(mp)) === 0;
  const walk: FailureWalk = { mp, mfFlags, notify: { startblock: 0n, blockcount: 0n }, wantShutdown: false };
  let error: Rc = 0;
  const startAg = startBno / mp.agBlocks;
  const endAg = endBno / mp.agBlocks;
  if (strategy === 'pfn-walk') {
    // One page at a time: the blocks of each pfn, as memory_failure(pfn) would hand them over.
    const step = mp.blockSize < PAGE_SIZE ? PAGE_SIZE / mp.blockSize : 1n;
    for (let agno = startAg; agno <= endAg && agno < mp.agCount && error === 0; agno++) {
      if (mp.shutdown !== 0) {
        error = 'EIO';
        break;
      }
      const bt = mp.rmap[Number(agno)] ?? EMPTY_RMAP;
      const low = agno === startAg ? startBno % mp.agBlocks : 0n;
      const last = xfsAgLength(mp, agno) - 1n;
      const high = agno === endAg ? endBno % mp.agBlocks : last;
      for (let agbno = low; agbno <= high && agbno <= last && error === 0; agbno += step) {
        const pageLast = agbno + step - 1n < high ? agbno + step - 1n : high;
        walk.notify = { startblock: agbno, blockcount: pageLast + 1n - agbno };
        for (const rec of bt.queryRange(agbno, pageLast)) {
          const rc = yield* xfsDaxFailureFn(walk, rec);
          if (rc !== 0) {
            error = rc;
            break;
          }
        }
      }
    }
  } else {
    // Every in-core inode's data extents that lie in the range, in inode order.
    const inos = [...mp.inodes.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const ino of inos) {
      const ip = mp.inodes.get(ino) as XfsInode;
      // The iext tree is in file-offset order already; an array's sorted view is cached.
      for (const ext of ip.extents instanceof XfsIextTree ? ip.extents : xfsIextSorted(ip.extents)) {
        if (ext.block + ext.count - 1n < startBno || ext.block > endBno) continue;
        const agno = ext.block / mp.agBlocks;
        const low = agno === startAg ? startBno % mp.agBlocks : 0n;
        const last = xfsAgLength(mp, agno) - 1n;
        const high = agno === endAg ? endBno % mp.agBlocks : U32_MAX;
        walk.notify = { startblock: low, blockcount: (last < high ? last : high) + 1n - low };
        const rec: XfsRmapIrec = { startblock: ext.block % mp.agBlocks, blockcount: ext.count, owner: ino, offset: ext.offset, flags: 0 };
        const rc = yield* xfsDaxFailureFn(walk, rec);
        if (rc !== 0) {
          error = rc;
          break;
        }
      }
      if (error !== 0) break;
    }
  }
  yield* xfsForceShutdown(mp, 'SHUTDOWN_FORCE_UMOUNT');
  yield* xfsDaxNotifyFailureThaw(mp, kernelFrozen);
  return error;
}

/**
 * Models xfs_dax_failure_fn(), called once per overlapping rmap record.
 */
function* xfsDaxFailureFn(walk: FailureWalk, rec: XfsRmapIrec): Hop<Rc> {
  const { mp } = walk;
  const preRemove = hasFlag(walk.mfFlags, MF.MF_MEM_PRE_REMOVE);
  if (xfsRmapIsMetadata(rec)) {
    // Continue the query: this record is not the failure, the walk decides once at the end.
    if (preRemove) return 0;
    walk.wantShutdown = true;
    yield* printk('xfs', 'debug', `XFS (${mp.name}): metadata hit: ${xfsRmapOwnerName(rec.owner)} flags 0x${rec.flags.toString(16)} at agbno ${rec.startblock}`);
    return 0;
  }
  const ip = mp.inodes.get(rec.owner);
  if (!ip || ip.cache === 'uncached') return 0; // -ENODATA: not in core, nobody maps it
  if (ip.cache === 'transient') {
    walk.wantShutdown = true; // -EAGAIN from xfs_iget_cache_hit()
    yield* printk('xfs', 'debug', `XFS (${mp.name}): xfs_iget(${ip.ino}) = -EAGAIN (inode in transient state)`);
    return 0;
  }
  const mapping = mappingId(mp.name, ip.ino);
  const pgoff = xfsFailurePgoff(mp.blockSize, rec, walk.notify);
  const pgcnt = xfsFailurePgcnt(mp.blockSize, rec, walk.notify);
  let rc: Rc = 0;
  if (xfsInodeIsDax(mp, ip)) rc = yield* invoke('mm.mfDaxKillProcs', { mapping, pgoff, pgcnt, mfFlags: walk.mfFlags });
  // pgoff_t arithmetic: with pgcnt 0 at pgoff 0 (sub-page blocks) the end wraps to ULONG_MAX.
  if (preRemove) yield* invoke('mm.invalidateInodePages2Range', { mapping, start: pgoff, end: u64(pgoff + pgcnt - 1n) });
  return rc;
}

/** Models xfs_dax_notify_failure_freeze(): freeze_super(FREEZE_HOLDER_KERNEL). */
function* xfsDaxNotifyFailureFreeze(mp: XfsMount): Hop<Rc> {
  // Remembered: the walk that follows runs with the freeze this takes.
  if (yield* memo(mp.frozenKernel)) {
    yield* printk('xfs', 'emerg', `XFS (${mp.name}): already frozen by kernel, err=-16`);
    return 'EBUSY';
  }
  mp.frozenKernel = true;
  return 0;
}

/** Models xfs_dax_notify_failure_thaw(): the kernel freeze if we took it, the user's always. */
function* xfsDaxNotifyFailureThaw(mp: XfsMount, kernelFrozen: boolean): Hop<void> {
  if (kernelFrozen) mp.frozenKernel = false;
  if (mp.frozenUser) yield* printk('xfs', 'info', `XFS (${mp.name}): thawing the userspace freeze: the device is about to be removed`);
  mp.frozenUser = false;
}

export type XfsIomap =
  | { readonly rc: Errno }
  | { readonly rc: 0; readonly type: 'pagecache' }
  | { readonly rc: 0; readonly type: 'hole'; readonly count: bigint }
  | { readonly rc: 0; readonly type: 'mapped'; readonly daxDev: string; readonly daxPgoff: bigint; readonly count: bigint; readonly shared: boolean };

const EMPTY_RMAP = new XfsRmapBtree();

/**
 * How many data extents (of any file) cover this block: > 1 means reflinked. The refcount
 * btree answers it (xfs_refcount_find_shared()); no owner list is built.
 */
export function xfsBlockRefcount(mp: XfsMount, block: bigint): number {
  const agno = block / mp.agBlocks;
  const agbno = block % mp.agBlocks;
  return mp.rmap[Number(agno)]?.refcount(agbno) ?? 0;
}

/**
 * Whether each block of [block, block + count) is shared (data refcount ≥ 2), from one
 * refcount-btree query per AG the range touches (xfs_reflink_trim_around_shared()).
 */
function* xfsSharedRange(mp: XfsMount, block: bigint, count: bigint): Hop<(b: bigint) => boolean> {
  const spans: { start: bigint; end: bigint }[] = [];
  const last = block + count - 1n;
  for (let agno = block / mp.agBlocks; agno <= last / mp.agBlocks; agno++) {
    const agStart = agno * mp.agBlocks;
    const low = block > agStart ? block - agStart : 0n;
    const high = last < agStart + mp.agBlocks - 1n ? last - agStart : mp.agBlocks - 1n;
    for (const r of yield* read('xfs.refcountQueryRange', { fs: mp.name, agno, low, high })) {
      spans.push({ start: agStart + r.startblock, end: agStart + r.startblock + r.blockcount });
    }
  }
  return (b: bigint) => spans.some((s) => s.start <= b && b < s.end);
}

/**
 * Models the DAX iomap of a fault (xfs_read_iomap_begin() with
 * xfs_reflink_trim_around_shared()): -EIO on a shut-down fs; a page-cache mapping for a
 * non-DAX inode; a hole; or the dax_device pgoff of the block (plus the partition offset,
 * as xfs_bmbt_to_iomap() adds bt_dax_part_off), with IOMAP_F_SHARED for a reflinked block.
 * `count` is how many pages from pgoff have the same answer.
 */
export function* xfsDaxIomapBegin(state: XfsState, args: { fs: string; ino: bigint; pgoff: bigint; count: bigint }): Hop<XfsIomap> {
  const mp = mountOf(state, args.fs);
  if (mp.mountError || mp.shutdown !== 0) return { rc: 'EIO' };
  const ip = mp.inodes.get(args.ino);
  if (!ip) return { rc: 'EIO' };
  if (!xfsInodeIsDax(mp, ip)) return { rc: 0, type: 'pagecache' };
  const fb = args.pgoff; // DAX needs blocksize == PAGE_SIZE: one block is one page
  const { got: ext, next: nextExt } = xfsIextLookupExtent(ip, fb);
  if (!ext) {
    const next = nextExt?.offset ?? null;
    const count = next === null ? args.count : next - fb;
    return { rc: 0, type: 'hole', count: count < args.count ? count : args.count };
  }
  const block = ext.block + (fb - ext.offset);
  const limit = ext.offset + ext.count - fb;
  const isShared = yield* xfsSharedRange(mp, block, args.count < limit ? args.count : limit);
  const shared = isShared(block);
  let count = 1n;
  while (count < args.count && count < limit && isShared(block + count) === shared) count++;
  const daxDev = mp.data.daxDev as string;
  return { rc: 0, type: 'mapped', daxDev, daxPgoff: (mp.data.daxPartOff + block * mp.blockSize) / PAGE_SIZE, count, shared };
}

/**
 * Models a page-cache read of one file page (->read_folio, then bios to the data device): a
 * non-DAX file's fault needs it. A shut-down fs, a dead disk or a bad sector fails it with
 * -EIO, which the fault turns into SIGBUS (BUS_ADRERR). Holes read as zeroes.
 */
export function* xfsReadFolio(state: XfsState, args: { fs: string; ino: bigint; pgoff: bigint }): Hop<Rc> {
  const mp = mountOf(state, args.fs);
  if (mp.mountError || mp.shutdown !== 0) return 'EIO';
  const ip = mp.inodes.get(args.ino);
  if (!ip) return 'EIO';
  const bdev = mp.data.bdev;
  const chunk = mp.blockSize < PAGE_SIZE ? mp.blockSize : PAGE_SIZE;
  for (let pos = args.pgoff * PAGE_SIZE; pos < (args.pgoff + 1n) * PAGE_SIZE; pos += chunk) {
    const fb = pos / mp.blockSize;
    const ext = xfsIextLookupExtent(ip, fb).got;
    if (!ext) continue;
    const sector = ((ext.block + fb - ext.offset) * mp.blockSize + (pos % mp.blockSize)) >> SECTOR_SHIFT;
    const nrSectors = chunk >> SECTOR_SHIFT;
    const rc =
      bdev.diskKind === 'dm'
        ? yield* invoke('dm.dmSubmitBio', { md: bdev.disk, sector, nrSectors })
        : yield* invoke('pmem.pmemSubmitBio', { disk: bdev.disk, sector: bdev.partStart + sector, nrSectors });
    if (rc !== 0) return rc;
  }
  return 0;
}

/**
 * Models fs_bdev_mark_dead() after del_gendisk(): every filesystem with a device on that disk
 * is shut down with SHUTDOWN_DEVICE_REMOVED — a no-op after a pre-remove's FORCE_UMOUNT, the
 * one that counts when the pre-remove bailed out early (no rmapbt, log device, superblock
 * not born: kernel-semantics §1.d step 7).
 */
export function* fsBdevMarkDead(state: XfsState, args: { disk: string }): Hop<void> {
  for (const mp of state.mounts.values()) {
    if (mp.mountError) continue;
    const uses = mp.data.bdev.disk === args.disk || mp.log?.bdev.disk === args.disk;
    if (uses) yield* xfsForceShutdown(mp, 'SHUTDOWN_DEVICE_REMOVED');
  }
}
