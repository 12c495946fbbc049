/**
 * drivers/dax/super.c: dax_devices, their single holder and the notify_failure path.
 * dax-core knows only the holder_operations interface, never what the holder is: an XFS
 * mount ({kind:'fs'}) or, in the dm proposal, a list of mapped devices ({kind:'dm'}).
 */
import { invoke, printk, type Hop } from '../effects';
import type { Rc } from '../errno';
import { MF } from '../mf';
import { PAGE_SIZE, SECTOR_SIZE, U64_MAX } from '../units';
import { lookup, type Bdev, type DirectAccess } from '../types';

export type DaxHolder = { readonly kind: 'fs'; readonly name: string } | { readonly kind: 'dm'; readonly mds: string[] };

export interface DaxDevice {
  readonly name: string;
  /** Whose ->direct_access() serves it: the pmem driver or a dm mapped device. */
  readonly kind: 'pmem' | 'dm';
  /** The queue advertises DAX (a raw pmem namespace, or a dm table over one, does not). */
  readonly daxCapable: boolean;
  /** DAXDEV_ALIVE. */
  alive: boolean;
  /** Listed in the host table (dax_add_host); dax_remove_host takes it out. */
  hosted: boolean;
  /** holder_data + holder_ops: exactly one holder per dax_device. */
  holder: DaxHolder | null;
}

export interface DaxState {
  readonly devices: Map<string, DaxDevice>;
}

export function createDaxState(): DaxState {
  return { devices: new Map() };
}

/** Name of the holder as the outcome reports it: a filesystem, the first dm device, or 'none'. */
export function daxHolderName(dev: DaxDevice): string {
  if (!dev.holder) return 'none';
  return dev.holder.kind === 'fs' ? dev.holder.name : (dev.holder.mds[0] ?? 'none');
}

function device(state: DaxState, name: string): DaxDevice {
  return lookup(state.devices, name, 'dax_device');
}

/** Models alloc_dax() + dax_add_host(): a live, hosted device with no holder. */
export function* allocDax(state: DaxState, args: { name: string; kind: 'pmem' | 'dm'; daxCapable: boolean }): Hop<void> {
  state.devices.set(args.name, { name: args.name, kind: args.kind, daxCapable: args.daxCapable, alive: true, hosted: true, holder: null });
}

/** Models dax_remove_host(): later fs_dax_get_by_bdev() lookups for the disk fail. */
export function* daxRemoveHost(state: DaxState, args: { daxDev: string }): Hop<void> {
  device(state, args.daxDev).hosted = false;
}

export interface DaxGetResult {
  readonly daxDev: string;
  /** bt_dax_part_off: the partition's start on the dax device, in bytes. */
  readonly partOff: bigint;
}

/**
 * Models fs_dax_get_by_bdev(bdev, &start_off, holder, ops). A filesystem holder is installed
 * with an atomic compare-and-exchange from NULL, which fails for any existing holder — also
 * the same filesystem through another partition. With no holder (ext4, mainline dm) the device
 * is returned and nothing is registered. A dm holder follows the proposal: the first dm
 * installs a list of mapped devices, later ones append to it.
 */
export function* fsDaxGetByBdev(
  state: DaxState,
  args: { bdev: Bdev; holder: { kind: 'fs' | 'dm'; name: string } | null },
): Hop<DaxGetResult | null> {
  const dev = state.devices.get(args.bdev.disk);
  if (!dev || !dev.daxCapable) return null;
  const startOff = args.bdev.partStart * SECTOR_SIZE;
  const partSize = args.bdev.nrSectors * SECTOR_SIZE;
  if (startOff % PAGE_SIZE !== 0n || partSize % PAGE_SIZE !== 0n) {
    yield* printk('dax', 'info', `${args.bdev.partition ?? args.bdev.disk}: error: unaligned partition for dax`);
    return null;
  }
  if (!dev.hosted || !dev.alive) return null;
  const holder = args.holder;
  if (holder?.kind === 'fs') {
    if (dev.holder) return null;
    dev.holder = { kind: 'fs', name: holder.name };
  } else if (holder?.kind === 'dm') {
    if (!dev.holder) dev.holder = { kind: 'dm', mds: [holder.name] };
    else if (dev.holder.kind === 'dm') dev.holder.mds.push(holder.name);
  }
  return { daxDev: dev.name, partOff: startOff };
}

/** Models fs_put_dax(): clears the holder only if it is this holder. */
export function* fsPutDax(state: DaxState, args: { daxDev: string; holder: { kind: 'fs' | 'dm'; name: string } }): Hop<void> {
  const dev = device(state, args.daxDev);
  const h = dev.holder;
  if (!h) return;
  if (h.kind === 'fs' && args.holder.kind === 'fs' && h.name === args.holder.name) dev.holder = null;
  if (h.kind === 'dm' && args.holder.kind === 'dm') {
    const i = h.mds.indexOf(args.holder.name);
    if (i >= 0) h.mds.splice(i, 1);
    if (h.mds.length === 0) dev.holder = null;
  }
}

/**
 * Models dax_holder_notify_failure(): -ENXIO on a dead device, -EOPNOTSUPP with no holder
 * (mm then falls back to the generic page->mapping path), else the holder's own answer.
 */
export function* daxHolderNotifyFailure(
  state: DaxState,
  args: { daxDev: string; offset: bigint; len: bigint; mfFlags: number },
): Hop<Rc> {
  const dev = device(state, args.daxDev);
  if (!dev.alive) return 'ENXIO';
  const holder = dev.holder;
  if (!holder) return 'EOPNOTSUPP';
  if (holder.kind === 'fs') {
    return yield* invoke('xfs.xfsDaxNotifyFailure', { fs: holder.name, daxDev: dev.name, offset: args.offset, len: args.len, mfFlags: args.mfFlags });
  }
  return yield* invoke('dm.dmDaxNotifyFailure', { mds: [...holder.mds], daxDev: dev.name, offset: args.offset, len: args.len, mfFlags: args.mfFlags });
}

/**
 * Models kill_dax(): tell the holder the whole device is going (offset 0, len U64_MAX,
 * MF_MEM_PRE_REMOVE) and ignore its answer; then clear DAXDEV_ALIVE — from here on direct
 * access and notifications get -ENXIO — and, after synchronize_srcu(), drop the holder.
 */
export function* killDax(state: DaxState, args: { daxDev: string }): Hop<void> {
  const dev = device(state, args.daxDev);
  if (dev.holder) {
    yield* invoke('dax.daxHolderNotifyFailure', { daxDev: dev.name, offset: 0n, len: U64_MAX, mfFlags: MF.MF_MEM_PRE_REMOVE });
  }
  dev.alive = false;
  dev.holder = null;
  yield* printk('dax', 'debug', `${dev.name}: kill_dax: dax device dead`);
}

/**
 * Models dax_direct_access(): -ENXIO once the device is dead, otherwise the driver's answer
 * (pmem, or dm which forwards to its component).
 */
export function* daxDirectAccess(state: DaxState, args: { daxDev: string; pgoff: bigint; nrPages: bigint }): Hop<DirectAccess> {
  const dev = device(state, args.daxDev);
  if (!dev.alive) return { rc: 'ENXIO' };
  if (args.nrPages < 0n) return { rc: 'EINVAL' };
  if (dev.kind === 'pmem') return yield* invoke('pmem.pmemDaxDirectAccess', { disk: dev.name, pgoff: args.pgoff, nrPages: args.nrPages });
  return yield* invoke('dm.dmDaxDirectAccess', { md: dev.name, pgoff: args.pgoff, nrPages: args.nrPages });
}

