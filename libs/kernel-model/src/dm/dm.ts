/**
 * drivers/md/dm.c + dm-linear.c: device-mapper linear devices over pmem.
 *
 * Two modes, because mainline and the 2021 proposal differ (kernel-semantics §1.e):
 * - upstream: open_table_device() opens components with no holder, so a failure on the pmem
 *   below gets -EOPNOTSUPP from dax and mm takes the generic page->mapping path.
 * - proposal ("dm: Introduce ->rmap()", "md: Implement dax_holder_operations", v6, never
 *   merged): dm registers as the component's holder (a list of mapped devices), reverse-maps
 *   the failed offset with linear_rmap and notifies the holder of its own dax_device.
 */
import { invoke, printk, type Hop } from '../effects';
import type { Rc } from '../errno';
import { SECTOR_SHIFT, SECTORS_PER_PAGE } from '../units';
import { lookup, type Bdev, type DirectAccess } from '../types';

/** _dm_claim_ptr: the exclusive-open holder every mapped device uses for its components. */
export const DM_CLAIM = 'device-mapper';

export interface DmTarget {
  /** Sectors on the mapped device. */
  readonly begin: bigint;
  readonly len: bigint;
  readonly type: 'linear';
  /** The component block device (a pmem namespace or a partition of one). */
  readonly bdev: Bdev;
  /** lc->start: sector on the component block device. */
  readonly start: bigint;
  /** The component's dax_device (the disk's) once the table is opened, or null. */
  componentDax: string | null;
  /** part_off of the component on its dax_device, in bytes. */
  componentPartOff: bigint;
}

export interface MappedDevice {
  readonly name: string;
  readonly mode: 'proposal' | 'upstream';
  readonly targets: DmTarget[];
  /** Filesystems that have the mapped device open. */
  readonly openers: Set<string>;
  removed: boolean;
}

export interface DmState {
  readonly devices: Map<string, MappedDevice>;
}

export function createDmState(): DmState {
  return { devices: new Map() };
}

function mappedDevice(state: DmState, name: string): MappedDevice {
  return lookup(state.devices, name, 'mapped device');
}


/**
 * Models table load: open_table_device() for each target, then alloc_dev()'s own
 * dax_device. The mapped device supports DAX only if every component does.
 */
export function* dmCreate(state: DmState, args: { name: string }): Hop<void> {
  const md = mappedDevice(state, args.name);
  let daxCapable = md.targets.length > 0;
  // Targets on the same component share one table_device, opened (and registered) once.
  const opened = new Map<string, { daxDev: string; partOff: bigint } | null>();
  for (const t of md.targets) {
    const key = t.bdev.partition ?? t.bdev.disk;
    if (!opened.has(key)) {
      // open_table_device(): an exclusive open with the one holder all dm devices share.
      if (t.bdev.diskKind === 'pmem') yield* invoke('pmem.bdClaim', { bdev: t.bdev, holder: DM_CLAIM });
      const holder = md.mode === 'proposal' ? { kind: 'dm' as const, name: md.name } : null;
      opened.set(key, yield* invoke('dax.fsDaxGetByBdev', { bdev: t.bdev, holder }));
    }
    const got = opened.get(key) ?? null;
    t.componentDax = got?.daxDev ?? null;
    t.componentPartOff = got?.partOff ?? 0n;
    if (!got) daxCapable = false;
  }
  yield* invoke('dax.allocDax', { name: md.name, kind: 'dm', daxCapable });
}

/** Models the block-device open of the mapped device by a filesystem (it is then busy). */
export function* dmBlkdevOpen(state: DmState, args: { md: string; holder: string }): Hop<void> {
  mappedDevice(state, args.md).openers.add(args.holder);
}

/**
 * Models linear_rmap() for the first target that maps this component sector:
 * dm_sect = comp_sect − (lc.start − ti.begin). The component offset is relative to the dax
 * device while lc.start is relative to the component block device — a partitioned component
 * is mistranslated, exactly as in the patch.
 */
export function linearRmap(md: MappedDevice, componentDax: string, compSect: bigint): bigint | null {
  for (const t of md.targets) {
    if (t.componentDax !== componentDax) continue;
    if (t.start <= compSect && compSect < t.start + t.len) return compSect - t.start + t.begin;
  }
  return null;
}

/**
 * Models dm_dax_notify_failure() of the proposal: for each mapped device on the holder list,
 * reverse-map the offset; the first device that maps it gets dax_holder_notify_failure() on
 * its own dax_device and its answer ends the loop. No device maps it → -ENODEV. The length
 * is passed on unclipped, as in the patch.
 */
export function* dmDaxNotifyFailure(
  state: DmState,
  args: { mds: string[]; daxDev: string; offset: bigint; len: bigint; mfFlags: number },
): Hop<Rc> {
  const compSect = args.offset >> SECTOR_SHIFT;
  for (const name of args.mds) {
    const md = state.devices.get(name);
    if (!md || md.removed) continue;
    const dmSect = linearRmap(md, args.daxDev, compSect);
    if (dmSect === null) continue;
    yield* printk('dm', 'debug', `${md.name}: linear_rmap: ${args.daxDev} sector ${compSect} -> ${md.name} sector ${dmSect}`);
    const rc = yield* invoke('dax.daxHolderNotifyFailure', { daxDev: md.name, offset: dmSect << SECTOR_SHIFT, len: args.len, mfFlags: args.mfFlags });
    if (rc !== 'ENODEV') return rc;
  }
  return 'ENODEV';
}

/**
 * Models dm_dax_direct_access() with linear_dax_pgoff(): dm page P is dm sector 8P; the
 * target that holds it maps it to component sector lc.start + (8P − ti.begin), and the
 * component's dax pgoff adds the partition start. A page that runs past its target's end
 * (a target length not a multiple of 8 sectors) is -EIO, as max_io_len() leaves no page.
 */
export function* dmDaxDirectAccess(state: DmState, args: { md: string; pgoff: bigint; nrPages: bigint }): Hop<DirectAccess> {
  const md = mappedDevice(state, args.md);
  const sector = args.pgoff * SECTORS_PER_PAGE;
  const t = md.targets.find((x) => x.begin <= sector && sector < x.begin + x.len);
  if (!t || !t.componentDax) return { rc: 'EIO' };
  const compSector = t.start + (sector - t.begin);
  const compPgoff = ((t.componentPartOff >> SECTOR_SHIFT) + compSector) / SECTORS_PER_PAGE;
  // max_io_len(): a page that straddles the end of its target cannot be mapped (-EIO).
  const left = (t.begin + t.len - sector) / SECTORS_PER_PAGE;
  if (left < 1n) return { rc: 'EIO' };
  return yield* invoke('dax.daxDirectAccess', { daxDev: t.componentDax, pgoff: compPgoff, nrPages: left < args.nrPages ? left : args.nrPages });
}

/** Models dm-linear's bio mapping (linear_map) for a read: the component sector, then its disk. */
export function* dmSubmitBio(state: DmState, args: { md: string; sector: bigint; nrSectors: bigint }): Hop<Rc> {
  const md = mappedDevice(state, args.md);
  const t = md.targets.find((x) => x.begin <= args.sector && args.sector < x.begin + x.len);
  if (md.removed || !t) return 'EIO';
  const sector = t.bdev.partStart + t.start + (args.sector - t.begin);
  if (t.bdev.diskKind === 'dm') return yield* invoke('dm.dmSubmitBio', { md: t.bdev.disk, sector, nrSectors: args.nrSectors });
  return yield* invoke('pmem.pmemSubmitBio', { disk: t.bdev.disk, sector, nrSectors: args.nrSectors });
}

/**
 * Models removing a mapped device (dm remove → cleanup_mapped_device): refused with -EBUSY
 * while a filesystem has it open; otherwise kill_dax() on its own dax_device and the
 * component devices are closed (the proposal drops this device from their holder lists).
 */
export function* dmRemove(state: DmState, args: { md: string }): Hop<Rc> {
  const md = mappedDevice(state, args.md);
  if (md.removed) return 'ENODEV';
  if (md.openers.size > 0) {
    yield* printk('dm', 'err', `${md.name}: device is busy (open by ${[...md.openers].join(', ')})`);
    return 'EBUSY';
  }
  yield* invoke('dax.killDax', { daxDev: md.name });
  for (const t of md.targets) {
    if (md.mode === 'proposal' && t.componentDax) yield* invoke('dax.fsPutDax', { daxDev: t.componentDax, holder: { kind: 'dm', name: md.name } });
  }
  md.removed = true;
  return 0;
}

