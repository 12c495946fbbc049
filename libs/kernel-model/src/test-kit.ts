/**
 * Given/When/Then helpers for the kernel-model specs: build a small machine (pmem, dm, xfs,
 * tasks) directly on the model's state, then drive it through the embedded bus. Test-only;
 * not exported from the package index.
 */
import { runCall, type BusResult, type Kernel, type TraceNode } from './bus';
import { createDaxState } from './dax/dax';
import { createDmState, type MappedDevice } from './dm/dm';
import type { KernelOps, OpName } from './ops';
import { createMmState, mmAddTask, type Task } from './mm/mm-state';
import { createPmemState, pmemCapacity, type PmemNamespace } from './pmem/pmem';
import { mappingId, type Bdev } from './types';
import { PAGE_SHIFT, SECTOR_SIZE } from './units';
import { xfsRmapCompare, XFS_RMAP_OWN, type XfsRmapIrec, type XfsRmapOwnerName } from './xfs/rmap';
import { XfsRmapBtree } from './xfs/rmap-btree';
import { createXfsState, type XfsInode, type XfsMount } from './xfs/xfs';

export const GiB = 1n << 30n;
/** The shared example layout (scenarios/examples/README.md). */
export const PHYS = 0x1_0000_0000n;
export const DATA_OFFSET = 0x1020_0000n;
/** fs block b of an XFS directly on pmem0 lives at pfn FIRST_DATA_PFN + b. */
export const FIRST_DATA_PFN = 0x110200n;
export const TESTFILE_BLOCK = 78416n;
export const TESTFILE_PFN = 0x123450n;

export function givenKernel(opts: { earlyKill?: 0 | 1; recovery?: 0 | 1; hwpoisonFilter?: boolean } = {}): Kernel {
  return {
    pmem: createPmemState(),
    dax: createDaxState(),
    dm: createDmState(),
    xfs: createXfsState(),
    mm: createMmState({
      sysctl: { memoryFailureEarlyKill: opts.earlyKill ?? 0, memoryFailureRecovery: opts.recovery ?? 1 },
      hwpoisonFilter: opts.hwpoisonFilter ?? false,
    }),
    panic: null,
  };
}

export function givenPmem(k: Kernel, opts: Partial<PmemNamespace> & { name?: string } = {}): PmemNamespace {
  const ns: PmemNamespace = {
    name: opts.name ?? 'pmem0',
    physAddr: opts.physAddr ?? PHYS,
    size: opts.size ?? 16n * GiB,
    dataOffset: opts.dataOffset ?? DATA_OFFSET,
    pfnPad: opts.pfnPad ?? 0n,
    mode: opts.mode ?? 'fsdax',
    badblocks: opts.badblocks ?? [],
    bound: true,
  };
  k.pmem.namespaces.set(ns.name, ns);
  runCall(k, 'dax.allocDax', { name: ns.name, kind: 'pmem', daxCapable: ns.mode === 'fsdax' }, { current: null });
  return ns;
}

export function wholeDisk(ns: PmemNamespace): Bdev {
  return { disk: ns.name, diskKind: 'pmem', partition: null, partStart: 0n, nrSectors: pmemCapacity(ns) / SECTOR_SIZE };
}

export function partitionOf(ns: PmemNamespace, name: string, start: bigint, sectors: bigint): Bdev {
  return { disk: ns.name, diskKind: 'pmem', partition: name, partStart: start, nrSectors: sectors };
}

export function givenDm(k: Kernel, opts: { name?: string; mode: 'proposal' | 'upstream'; component: Bdev; start: bigint; len: bigint }): Bdev {
  const md: MappedDevice = {
    name: opts.name ?? 'dm0',
    mode: opts.mode,
    targets: [{ begin: 0n, len: opts.len, type: 'linear', bdev: opts.component, start: opts.start, componentDax: null, componentPartOff: 0n }],
    openers: new Set(),
    removed: false,
  };
  k.dm.devices.set(md.name, md);
  runCall(k, 'dm.dmCreate', { name: md.name }, { current: null });
  return { disk: md.name, diskKind: 'dm', partition: null, partStart: 0n, nrSectors: opts.len };
}

export interface FileOpts {
  ino: bigint;
  path?: string;
  kind?: 'regular' | 'directory';
  cache?: 'active' | 'uncached' | 'transient';
  daxFlag?: boolean;
  extents?: { offset: bigint; block: bigint; count: bigint }[];
  attrBlocks?: { block: bigint; count: bigint }[];
  bmbtBlocks?: { block: bigint; count: bigint }[];
}

export interface XfsOpts {
  name?: string;
  type?: 'xfs' | 'ext4';
  device: Bdev;
  log?: Bdev;
  blockSize?: bigint;
  agBlocks?: bigint;
  rmapbt?: boolean;
  reflink?: boolean;
  dax?: 'always' | 'never' | 'inode';
  mounting?: boolean;
  frozenUser?: boolean;
  metadata?: { owner: XfsRmapOwnerName; block: bigint; count: bigint }[];
  files?: FileOpts[];
}

/** Creates the filesystem's state and mounts it through the bus. */
export function givenXfs(k: Kernel, o: XfsOpts): XfsMount & { mountResult: KernelOps['xfs.xfsMount']['result'] | undefined } {
  const blockSize = o.blockSize ?? 4096n;
  const agBlocks = o.agBlocks ?? 262144n;
  const dblocks = (o.device.nrSectors * SECTOR_SIZE) / blockSize;
  const agCount = (dblocks + agBlocks - 1n) / agBlocks;
  const rmap: XfsRmapIrec[][] = Array.from({ length: Number(agCount) }, () => []);
  const add = (block: bigint, count: bigint, owner: bigint, offset: bigint, flags: number): void => {
    rmap[Number(block / agBlocks)]?.push({ startblock: block % agBlocks, blockcount: count, owner, offset, flags });
  };
  for (const m of o.metadata ?? []) add(m.block, m.count, XFS_RMAP_OWN[m.owner], 0n, 0);
  const inodes = new Map<bigint, XfsInode>();
  for (const f of o.files ?? []) {
    inodes.set(f.ino, { ino: f.ino, path: f.path ?? `/f${f.ino}`, kind: f.kind ?? 'regular', cache: f.cache ?? 'active', daxFlag: f.daxFlag ?? false, extents: f.extents ?? [] });
    for (const e of f.extents ?? []) add(e.block, e.count, f.ino, e.offset, 0);
    for (const a of f.attrBlocks ?? []) add(a.block, a.count, f.ino, 0n, 1);
    for (const b of f.bmbtBlocks ?? []) add(b.block, b.count, f.ino, 0n, 2);
  }
  for (const ag of rmap) ag.sort(xfsRmapCompare);
  const type = o.type ?? 'xfs';
  const mp: XfsMount = {
    name: o.name ?? 'xfs0',
    type,
    blockSize,
    agBlocks,
    agCount,
    dblocks,
    rmapbt: type === 'xfs' && (o.rmapbt ?? true),
    reflink: type === 'xfs' && (o.reflink ?? true),
    daxMode: o.dax ?? 'always',
    data: { bdev: o.device, daxDev: null, daxPartOff: 0n },
    log: o.log ? { bdev: o.log, daxDev: null, daxPartOff: 0n } : null,
    completesMount: !o.mounting,
    sbBorn: false,
    mountError: null,
    daxAlways: false,
    shutdown: 0,
    frozenUser: o.frozenUser ?? false,
    frozenKernel: false,
    inodes,
    rmap: type === 'xfs' ? rmap.map((ag) => XfsRmapBtree.fromRecords(ag)) : [],
  };
  k.xfs.mounts.set(mp.name, mp);
  const r = runCall(k, 'xfs.xfsMount', { fs: mp.name }, { current: null });
  return Object.assign(mp, { mountResult: r.result });
}

export interface MmapOpts {
  fs?: string;
  ino: bigint;
  start: bigint;
  pgoff?: bigint;
  pages: bigint;
  shared?: boolean;
  pmd?: boolean;
  /** Mapping-relative pages to fault in now. */
  faulted?: bigint[];
}

export function givenTask(k: Kernel, o: { pid: number; comm?: string; mceKill?: Task['mceKill']; capSysAdmin?: boolean; mmaps?: MmapOpts[] }): Task {
  const task: Task = {
    pid: o.pid,
    comm: o.comm ?? `p${o.pid}`,
    mceKill: o.mceKill ?? 'default',
    capSysAdmin: o.capSysAdmin ?? true,
    vmas: (o.mmaps ?? []).map((m) => ({
      start: m.start,
      pages: m.pages,
      pgoff: m.pgoff ?? 0n,
      mapping: mappingId(m.fs ?? 'xfs0', m.ino),
      fs: m.fs ?? 'xfs0',
      ino: m.ino,
      path: `/f${m.ino}`,
      shared: m.shared ?? true,
      pmd: m.pmd ?? false,
    })),
  };
  mmAddTask(k.mm, task);
  for (const m of o.mmaps ?? []) for (const p of m.faulted ?? []) whenFault(k, o.pid, m.start + (p << PAGE_SHIFT));
  return task;
}

export function whenFault(k: Kernel, pid: number, addr: bigint): KernelOps['mm.handleMmFault']['result'] {
  return runCall(k, 'mm.handleMmFault', { pid, addr }, { current: pid }).result as KernelOps['mm.handleMmFault']['result'];
}

export function when<K extends OpName>(k: Kernel, op: K, args: KernelOps[K]['args'], current: number | null = null): BusResult<KernelOps[K]['result']> {
  return runCall(k, op, args, { current });
}

/** Every log line in a trace, depth first. */
export function logsOf(node: TraceNode | undefined, into: string[] = []): string[] {
  if (!node) return into;
  if (node.kind === 'log') into.push(node.text);
  else for (const c of node.children) logsOf(c, into);
  return into;
}

/** Every op called inside a trace (the root included), depth first. */
export function callsOf(node: TraceNode | undefined, into: { op: OpName; args: unknown; result: unknown }[] = []): { op: OpName; args: unknown; result: unknown }[] {
  if (!node || node.kind !== 'call') return into;
  into.push({ op: node.op, args: node.args, result: node.result });
  for (const c of node.children) callsOf(c, into);
  return into;
}

export function present(k: Kernel, pid: number, addr: bigint): boolean {
  return k.mm.pageTables.get(pid)?.has(addr) ?? false;
}

/** The S01 machine: pmem0, xfs0 on it, /testfile ino 131 at blocks 78416..78431. */
export function givenTestfileMachine(opts: { earlyKill?: 0 | 1; xfs?: Partial<XfsOpts>; hwpoisonFilter?: boolean; recovery?: 0 | 1 } = {}): { k: Kernel; ns: PmemNamespace; mp: ReturnType<typeof givenXfs> } {
  const k = givenKernel(opts);
  const ns = givenPmem(k);
  const mp = givenXfs(k, {
    device: wholeDisk(ns),
    files: [{ ino: 131n, path: '/testfile', extents: [{ offset: 0n, block: TESTFILE_BLOCK, count: 16n }] }],
    ...opts.xfs,
  });
  return { k, ns, mp };
}
