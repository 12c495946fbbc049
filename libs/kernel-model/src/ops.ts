/**
 * Every call one subsystem can make into another, with its arguments and result: the
 * contract between the five subsystems (and, later, between the five services).
 */
import type { Errno, Rc } from './errno';
import type { DaxGetResult } from './dax/dax';
import type { DevPagemap } from './pmem/pmem';
import type { XfsIomap } from './xfs/xfs';
import type { XfsRmapIrec } from './xfs/rmap';
import type { FaultResult } from './mm/mm-state';
import type { Bdev, DirectAccess, MappingId } from './types';

type Op<A, R> = { args: A; result: R };
type HolderRef = { kind: 'fs' | 'dm'; name: string };

export interface KernelOps {
  // pmem-driver
  'pmem.getDevPagemap': Op<{ pfn: bigint }, DevPagemap | null>;
  'pmem.pmemPagemapMemoryFailure': Op<{ disk: string; pfn: bigint; nrPages: bigint; mfFlags: number }, Rc>;
  'pmem.pmemDaxDirectAccess': Op<{ disk: string; pgoff: bigint; nrPages: bigint }, DirectAccess>;
  'pmem.pmemPfnHasBadblocks': Op<{ pfn: bigint }, boolean>;
  'pmem.nvdimmAddBadrange': Op<{ pfn: bigint }, void>;
  'pmem.ndPmemRemove': Op<{ disk: string }, Rc>;
  'pmem.pmemSubmitBio': Op<{ disk: string; sector: bigint; nrSectors: bigint }, Rc>;
  'pmem.bdClaim': Op<{ bdev: Bdev; holder: string }, Rc>;
  'pmem.bdRelease': Op<{ bdev: Bdev; holder: string }, void>;
  // dax-core
  'dax.allocDax': Op<{ name: string; kind: 'pmem' | 'dm'; daxCapable: boolean }, void>;
  'dax.daxRemoveHost': Op<{ daxDev: string }, void>;
  'dax.fsDaxGetByBdev': Op<{ bdev: Bdev; holder: HolderRef | null }, DaxGetResult | null>;
  'dax.fsPutDax': Op<{ daxDev: string; holder: HolderRef }, void>;
  'dax.daxHolderNotifyFailure': Op<{ daxDev: string; offset: bigint; len: bigint; mfFlags: number }, Rc>;
  'dax.killDax': Op<{ daxDev: string }, void>;
  'dax.daxDirectAccess': Op<{ daxDev: string; pgoff: bigint; nrPages: bigint }, DirectAccess>;
  // dm-mapper
  'dm.dmCreate': Op<{ name: string }, void>;
  'dm.dmBlkdevOpen': Op<{ md: string; holder: string }, void>;
  'dm.dmDaxNotifyFailure': Op<{ mds: string[]; daxDev: string; offset: bigint; len: bigint; mfFlags: number }, Rc>;
  'dm.dmDaxDirectAccess': Op<{ md: string; pgoff: bigint; nrPages: bigint }, DirectAccess>;
  'dm.dmRemove': Op<{ md: string }, Rc>;
  'dm.dmSubmitBio': Op<{ md: string; sector: bigint; nrSectors: bigint }, Rc>;
  // xfs-fs
  'xfs.xfsMount': Op<{ fs: string }, { mountError: Errno | null; dax: boolean }>;
  'xfs.xfsDaxNotifyFailure': Op<{ fs: string; daxDev: string; offset: bigint; len: bigint; mfFlags: number }, Rc>;
  'xfs.xfsDaxIomapBegin': Op<{ fs: string; ino: bigint; pgoff: bigint; count: bigint }, XfsIomap>;
  'xfs.fsBdevMarkDead': Op<{ disk: string }, void>;
  'xfs.xfsReadFolio': Op<{ fs: string; ino: bigint; pgoff: bigint }, Rc>;
  // mm-process
  'mm.memoryFailure': Op<{ pfn: bigint; mfFlags: number }, Rc>;
  'mm.memoryFailureDevPagemap': Op<{ pfn: bigint; mfFlags: number; disk: string; pfnValid: boolean }, Rc>;
  'mm.mfGenericKillProcs': Op<{ pfn: bigint; mfFlags: number }, Rc>;
  'mm.mfDaxKillProcs': Op<{ mapping: MappingId; pgoff: bigint; pgcnt: bigint; mfFlags: number }, Rc>;
  'mm.invalidateInodePages2Range': Op<{ mapping: MappingId; start: bigint; end: bigint }, Rc>;
  'mm.handleMmFault': Op<{ pid: number; addr: bigint }, FaultResult>;
  'mm.madviseInjectError': Op<{ pid: number; start: bigint; pages: bigint }, Rc>;
  'mm.hwpoisonInject': Op<{ pfn: bigint }, Rc>;
  'mm.doMachineCheck': Op<{ pid: number; pfn: bigint; ripv: boolean }, Rc>;
  'mm.ucDecodeNotifier': Op<{ pfn: bigint }, Rc>;
  'mm.userAccess': Op<{ pid: number; addr: bigint }, Rc>;
  'mm.userFault': Op<{ pid: number; addr: bigint }, Rc>;
}

export type OpName = keyof KernelOps;

/**
 * Reads a hop makes of its own subsystem's persistent structures (see `Read` in effects.ts).
 * `xfs.rmapQueryRange`: xfs_rmap_query_range() over one AG's rmapbt, overlapping records of
 * [low, high] (AG blocks, inclusive) in key order.
 */
export interface KernelReads {
  'xfs.rmapQueryRange': Op<{ fs: string; agno: bigint; low: bigint; high: bigint }, XfsRmapIrec[]>;
  /**
   * The refcount btree of one AG over [low, high]: the shared blocks (data refcount ≥ 2) as
   * records {startblock, blockcount, refcount}, in block order; unshared blocks have none.
   */
  'xfs.refcountQueryRange': Op<{ fs: string; agno: bigint; low: bigint; high: bigint }, XfsRefcountIrec[]>;
}

/** struct xfs_refcount_irec. */
export interface XfsRefcountIrec {
  readonly startblock: bigint;
  readonly blockcount: bigint;
  readonly refcount: number;
}

export type ReadName = keyof KernelReads;

/** The kernel function each op models, for traces and logs. */
export const KERNEL_FUNCTION: Record<OpName, string> = {
  'pmem.getDevPagemap': 'get_dev_pagemap',
  'pmem.pmemPagemapMemoryFailure': 'pmem_pagemap_memory_failure',
  'pmem.pmemDaxDirectAccess': '__pmem_direct_access',
  'pmem.pmemPfnHasBadblocks': 'badblocks_check',
  'pmem.nvdimmAddBadrange': 'nvdimm_bus_add_badrange',
  'pmem.ndPmemRemove': 'nd_pmem_remove',
  'pmem.pmemSubmitBio': 'pmem_submit_bio',
  'pmem.bdClaim': 'bd_may_claim',
  'pmem.bdRelease': 'bdev_release',
  'dax.allocDax': 'alloc_dax',
  'dax.daxRemoveHost': 'dax_remove_host',
  'dax.fsDaxGetByBdev': 'fs_dax_get_by_bdev',
  'dax.fsPutDax': 'fs_put_dax',
  'dax.daxHolderNotifyFailure': 'dax_holder_notify_failure',
  'dax.killDax': 'kill_dax',
  'dax.daxDirectAccess': 'dax_direct_access',
  'dm.dmCreate': 'dm_table_create',
  'dm.dmBlkdevOpen': 'dm_blk_open',
  'dm.dmDaxNotifyFailure': 'dm_dax_notify_failure',
  'dm.dmDaxDirectAccess': 'dm_dax_direct_access',
  'dm.dmRemove': 'dm_remove',
  'dm.dmSubmitBio': 'linear_map',
  'xfs.xfsMount': 'xfs_fs_fill_super',
  'xfs.xfsDaxNotifyFailure': 'xfs_dax_notify_failure',
  'xfs.xfsDaxIomapBegin': 'xfs_read_iomap_begin',
  'xfs.fsBdevMarkDead': 'fs_bdev_mark_dead',
  'xfs.xfsReadFolio': 'xfs_vm_read_folio',
  'mm.memoryFailure': 'memory_failure',
  'mm.memoryFailureDevPagemap': 'memory_failure_dev_pagemap',
  'mm.mfGenericKillProcs': 'mf_generic_kill_procs',
  'mm.mfDaxKillProcs': 'mf_dax_kill_procs',
  'mm.invalidateInodePages2Range': 'invalidate_inode_pages2_range',
  'mm.handleMmFault': 'handle_mm_fault',
  'mm.madviseInjectError': 'madvise_inject_error',
  'mm.hwpoisonInject': 'hwpoison_inject',
  'mm.doMachineCheck': 'kill_me_maybe',
  'mm.ucDecodeNotifier': 'uc_decode_notifier',
  'mm.userAccess': 'user_access',
  'mm.userFault': 'do_user_addr_fault',
};
