/**
 * drivers/nvdimm/pmem.c: fs-DAX pmem namespaces. The driver owns the namespace geometry
 * and its badblocks; it turns a pfn into a byte offset on its dax device
 * (pmem_pagemap_memory_failure), a dax pgoff into a pfn (__pmem_direct_access), and runs the
 * unbind teardown (pmem_release_disk).
 */
import { invoke, printk, type Hop } from '../effects';
import type { Rc } from '../errno';
import { hex, PAGE_SHIFT, PAGE_SIZE, pfnToPhys, physToPfn, SECTOR_SHIFT, SECTORS_PER_PAGE } from '../units';
import { lookup, type Bdev, type DirectAccess } from '../types';

export interface Badblock {
  /** 512-byte sector relative to the first data byte. */
  sector: bigint;
  count: bigint;
}

export interface PmemNamespace {
  readonly name: string;
  readonly physAddr: bigint;
  readonly size: bigint;
  readonly dataOffset: bigint;
  readonly pfnPad: bigint;
  /** fsdax: struct pages and a pagemap with ->memory_failure; raw: neither (outside kernel control). */
  readonly mode: 'fsdax' | 'raw';
  readonly badblocks: Badblock[];
  /** The driver is bound (false after an unbind). */
  bound: boolean;
}

export interface PmemState {
  readonly namespaces: Map<string, PmemNamespace>;
  /** Exclusive claims (bd_holder) of whole disks and partitions, by device name. */
  readonly claims: Map<string, BdClaim>;
}

export interface BdClaim {
  readonly holder: string;
  readonly disk: string;
  readonly partition: boolean;
}

export function createPmemState(): PmemState {
  return { namespaces: new Map(), claims: new Map() };
}


/** Disk capacity in bytes: size − pfn_pad − data_offset (pmem_attach_disk()). */
export function pmemCapacity(ns: PmemNamespace): bigint {
  return ns.size - ns.pfnPad - ns.dataOffset;
}

/** First pfn of the pagemap range (the namespace start) and one past its last pfn. */
export function pmemPagemapRange(ns: PmemNamespace): { startPfn: bigint; endPfn: bigint } {
  return { startPfn: physToPfn(ns.physAddr), endPfn: physToPfn(ns.physAddr + ns.size - ns.pfnPad) };
}

/** The first pfn that holds data; lower pfns are the info block and the struct-page area. */
export function pmemFirstDataPfn(ns: PmemNamespace): bigint {
  return physToPfn(ns.physAddr + ns.dataOffset);
}

/** Offsets cross layers in bytes: the info block need not be page-aligned on every layout. */
export function pmemPfnToOffset(ns: PmemNamespace, pfn: bigint): bigint {
  return pfnToPhys(pfn) - ns.physAddr - ns.dataOffset;
}

export function pmemOffsetToPfn(ns: PmemNamespace, offset: bigint): bigint {
  return physToPfn(ns.physAddr + ns.dataOffset + offset);
}

function findNamespaceByPfn(state: PmemState, pfn: bigint): PmemNamespace | undefined {
  for (const ns of state.namespaces.values()) {
    const { startPfn, endPfn } = pmemPagemapRange(ns);
    if (pfn >= startPfn && pfn < endPfn) return ns;
  }
  return undefined;
}

function namespace(state: PmemState, disk: string): PmemNamespace {
  return lookup(state.namespaces, disk, 'pmem namespace');
}

/** badblocks_check(): does [sector, sector+count) touch a bad sector? */
export function badblocksCheck(ns: PmemNamespace, sector: bigint, count: bigint): boolean {
  return ns.badblocks.some((bb) => bb.sector < sector + count && sector < bb.sector + bb.count);
}

export interface DevPagemap {
  readonly disk: string;
  /** pgmap_pfn_valid(): false inside the namespace's metadata prefix. */
  readonly pfnValid: boolean;
}

/**
 * Models get_dev_pagemap() for the pagemaps this driver registered (devm_memremap_pages).
 * Raw namespaces have no pagemap; the pagemap outlives an unbind in this model (kernel-semantics
 * §7 Q6 leaves the teardown undefined; S26 expects the pagemap still resolvable).
 */
export function* getDevPagemap(state: PmemState, args: { pfn: bigint }): Hop<DevPagemap | null> {
  const ns = findNamespaceByPfn(state, args.pfn);
  if (!ns || ns.mode !== 'fsdax') return null;
  return { disk: ns.name, pfnValid: args.pfn >= pmemFirstDataPfn(ns) };
}

/**
 * Models pmem_pagemap_memory_failure(): pfn → byte offset on the dax device, then
 * dax_holder_notify_failure() with the flags unchanged. Returns the holder's result as is.
 */
export function* pmemPagemapMemoryFailure(
  state: PmemState,
  args: { disk: string; pfn: bigint; nrPages: bigint; mfFlags: number },
): Hop<Rc> {
  const ns = namespace(state, args.disk);
  const offset = pmemPfnToOffset(ns, args.pfn);
  const len = args.nrPages << PAGE_SHIFT;
  return yield* invoke('dax.daxHolderNotifyFailure', { daxDev: ns.name, offset, len, mfFlags: args.mfFlags });
}

/**
 * Models __pmem_direct_access() in normal (not recovery-write) mode: a range touching a bad
 * sector is -EHWPOISON; otherwise the pfn and the pages left to the end of the disk.
 */
export function* pmemDaxDirectAccess(state: PmemState, args: { disk: string; pgoff: bigint; nrPages: bigint }): Hop<DirectAccess> {
  const ns = namespace(state, args.disk);
  const offset = args.pgoff * PAGE_SIZE;
  if (badblocksCheck(ns, args.pgoff * SECTORS_PER_PAGE, args.nrPages * SECTORS_PER_PAGE)) return { rc: 'EHWPOISON' };
  const available = (ns.size - ns.pfnPad - ns.dataOffset - offset) / PAGE_SIZE;
  if (available <= 0n) return { rc: 'ERANGE' };
  return { rc: 0, pfn: pmemOffsetToPfn(ns, offset), nrPages: available < args.nrPages ? available : args.nrPages };
}

/**
 * Models the NFIT machine-check notifier (nfit_handle_mce → nvdimm_bus_add_badrange): a
 * hardware-reported poisoned page becomes 8 bad sectors of the namespace that holds it.
 * Pages in the metadata prefix are not disk sectors and are not recorded.
 */
export function* nvdimmAddBadrange(state: PmemState, args: { pfn: bigint }): Hop<void> {
  const ns = findNamespaceByPfn(state, args.pfn);
  if (!ns || args.pfn < pmemFirstDataPfn(ns)) return;
  const sector = pmemPfnToOffset(ns, args.pfn) >> SECTOR_SHIFT;
  if (badblocksCheck(ns, sector, SECTORS_PER_PAGE)) return;
  ns.badblocks.push({ sector, count: SECTORS_PER_PAGE });
  yield* printk('pmem', 'info', `${ns.name}: badblocks: added sector ${sector} (${SECTORS_PER_PAGE}) for pfn ${hex(args.pfn)}`);
}

/**
 * Models a driver unbind (nd_pmem_remove → pmem_release_disk): dax_remove_host, kill_dax,
 * put_dax, del_gendisk, in that order. Unbinding an unbound device is -ENODEV, as the driver
 * core answers a sysfs unbind of a device with no driver.
 */
export function* ndPmemRemove(state: PmemState, args: { disk: string }): Hop<Rc> {
  const ns = namespace(state, args.disk);
  if (!ns.bound) return 'ENODEV';
  yield* invoke('dax.daxRemoveHost', { daxDev: ns.name });
  yield* invoke('dax.killDax', { daxDev: ns.name });
  yield* invoke('xfs.fsBdevMarkDead', { disk: ns.name });
  ns.bound = false;
  return 0;
}


/** Whether the sectors of this pfn are in its namespace's badblocks (a load there is a machine check). */
export function* pmemPfnHasBadblocks(state: PmemState, args: { pfn: bigint }): Hop<boolean> {
  const ns = findNamespaceByPfn(state, args.pfn);
  if (!ns || args.pfn < pmemFirstDataPfn(ns)) return false;
  return badblocksCheck(ns, pmemPfnToOffset(ns, args.pfn) >> SECTOR_SHIFT, SECTORS_PER_PAGE);
}

/**
 * Models pmem_submit_bio() for a read: a bio to an unbound (deleted) disk or over a bad
 * sector fails with BLK_STS_IOERR (-EIO).
 */
export function* pmemSubmitBio(state: PmemState, args: { disk: string; sector: bigint; nrSectors: bigint }): Hop<Rc> {
  const ns = namespace(state, args.disk);
  if (!ns.bound) return 'EIO';
  if (badblocksCheck(ns, args.sector, args.nrSectors)) {
    yield* printk('pmem', 'err', `${ns.name}: read of sector ${args.sector} (${args.nrSectors}) hits badblocks: I/O error`);
    return 'EIO';
  }
  return 0;
}

/**
 * Models bd_may_claim() for an exclusive open of a pmem disk or one of its partitions: the
 * same holder may re-claim; another holder gets -EBUSY; a partition cannot be claimed while
 * its whole disk is held, nor the whole disk while one of its partitions is (a partition's
 * claim marks the whole disk). All dm devices share one holder (_dm_claim_ptr), so several
 * can map one pmem.
 */
export function* bdClaim(state: PmemState, args: { bdev: Bdev; holder: string }): Hop<Rc> {
  const name = args.bdev.partition ?? args.bdev.disk;
  const current = state.claims.get(name);
  if (current) return current.holder === args.holder ? 0 : 'EBUSY';
  const onDisk = [...state.claims.values()].filter((c) => c.disk === args.bdev.disk);
  const conflict = args.bdev.partition !== null ? onDisk.some((c) => !c.partition) : onDisk.some((c) => c.partition);
  if (conflict) {
    yield* printk('pmem', 'warn', `${name}: exclusive open by ${args.holder} refused: device busy`);
    return 'EBUSY';
  }
  state.claims.set(name, { holder: args.holder, disk: args.bdev.disk, partition: args.bdev.partition !== null });
  return 0;
}

/** Models the release of an exclusive open (bdev_release): the holder's claim goes. */
export function* bdRelease(state: PmemState, args: { bdev: Bdev; holder: string }): Hop<void> {
  const name = args.bdev.partition ?? args.bdev.disk;
  if (state.claims.get(name)?.holder === args.holder) state.claims.delete(name);
}
