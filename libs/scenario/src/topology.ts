/**
 * Builds a kernel from a scenario's topology, the way the machine boots: pmem namespaces
 * bind, dm tables load, filesystems mount in the order listed (recording what each mount
 * decided), and the processes fault their pages in, as real faults with all their side
 * effects.
 */
import {
  createDaxState,
  createDmState,
  createMmState,
  createPmemState,
  createXfsState,
  mappingId,
  mmAddTask,
  pmemCapacity,
  runCall,
  SECTOR_SIZE,
  XFS_RMAP_ATTR_FORK,
  XFS_RMAP_BMBT_BLOCK,
  XFS_RMAP_OWN,
  XfsRmapBtree,
  PAGE_SHIFT,
  type Bdev,
  type Errno,
  type Kernel,
  type MappedDevice,
  type TraceCall,
  type TraceLevel,
  type XfsMount,
  type XfsRmapIrec,
} from '@mfsim/kernel-model';
import type { FilesystemSpec, Scenario } from './scenario.types';

export interface MountOutcome {
  readonly mountError: Errno | null;
}

export interface BootedKernel {
  readonly kernel: Kernel;
  /** Traces of the set-up calls (dm tables, mounts, faults), in order; empty unless asked for. */
  readonly setupTraces: TraceCall[];
  readonly mounts: Map<string, MountOutcome>;
}

/** The block device a name refers to: a whole pmem disk, a partition, or a dm device. */
export function resolveBdev(scenario: Scenario, name: string): Bdev {
  for (const p of scenario.pmem) {
    if (p.name === name) {
      const capacity = p.size - p.pfnPad - p.dataOffset;
      return { disk: p.name, diskKind: 'pmem', partition: null, partStart: 0n, nrSectors: capacity / SECTOR_SIZE };
    }
    const part = p.partitions.find((x) => x.name === name);
    if (part) return { disk: p.name, diskKind: 'pmem', partition: part.name, partStart: part.start, nrSectors: part.sectors };
  }
  const md = scenario.dm.find((d) => d.name === name);
  if (md) {
    const sectors = md.table.reduce((end, t) => (t.begin + t.len > end ? t.begin + t.len : end), 0n);
    return { disk: md.name, diskKind: 'dm', partition: null, partStart: 0n, nrSectors: sectors };
  }
  throw new Error(`unknown block device ${name}`);
}

function buildRmap(fs: FilesystemSpec, agBlocks: bigint, agCount: bigint): XfsRmapBtree[] {
  const perAg: XfsRmapIrec[][] = Array.from({ length: Number(agCount) }, () => []);
  const add = (block: bigint, count: bigint, owner: bigint, offset: bigint, flags: number): void => {
    const ag = perAg[Number(block / agBlocks)];
    if (ag) ag.push({ startblock: block % agBlocks, blockcount: count, owner, offset, flags });
  };
  for (const m of fs.metadata) add(m.block, m.count, XFS_RMAP_OWN[m.owner], 0n, 0);
  for (const c of fs.cowStaging) add(c.block, c.count, XFS_RMAP_OWN.OWN_COW, 0n, 0);
  for (const f of fs.files) {
    for (const e of f.extents) add(e.block, e.count, f.ino, e.offset, 0);
    for (const a of f.attrBlocks) add(a.block, a.count, f.ino, 0n, XFS_RMAP_ATTR_FORK);
    for (const b of f.bmbtBlocks) add(b.block, b.count, f.ino, 0n, XFS_RMAP_BMBT_BLOCK);
  }
  return perAg.map((ag) => XfsRmapBtree.fromRecords(ag));
}

function createMount(scenario: Scenario, fs: FilesystemSpec): XfsMount {
  const data = resolveBdev(scenario, fs.device);
  const blockSize = BigInt(fs.blockSize);
  const deviceBlocks = (data.nrSectors * SECTOR_SIZE) / blockSize;
  const agBlocks = fs.agBlocks;
  const agCount = fs.agCount !== undefined ? BigInt(fs.agCount) : (deviceBlocks + agBlocks - 1n) / agBlocks;
  const dblocks = fs.agCount !== undefined && BigInt(fs.agCount) * agBlocks < deviceBlocks ? BigInt(fs.agCount) * agBlocks : deviceBlocks;
  const xfs = fs.type === 'xfs';
  return {
    name: fs.name,
    type: fs.type,
    blockSize,
    agBlocks,
    agCount,
    dblocks,
    rmapbt: xfs && fs.rmapbt,
    reflink: xfs && fs.reflink,
    daxMode: fs.dax,
    data: { bdev: data, daxDev: null, daxPartOff: 0n },
    log: fs.logDevice ? { bdev: resolveBdev(scenario, fs.logDevice), daxDev: null, daxPartOff: 0n } : null,
    completesMount: fs.state === 'mounted',
    sbBorn: false,
    mountError: null,
    daxAlways: false,
    shutdown: 0,
    frozenUser: fs.frozen === 'user',
    frozenKernel: false,
    inodes: new Map(
      fs.files.map((f) => [
        f.ino,
        { ino: f.ino, path: f.path, kind: f.kind, cache: f.cache, daxFlag: f.daxFlag, extents: f.extents.map((e) => ({ ...e })) },
      ]),
    ),
    rmap: xfs ? buildRmap(fs, agBlocks, agCount) : [],
  };
}

/** One call the machine makes while it boots (a device, a table, a mount, a fault). */
export interface SetupCall {
  readonly op: 'dax.allocDax' | 'dm.dmCreate' | 'xfs.xfsMount' | 'mm.userFault';
  readonly args: unknown;
  readonly ctx: { readonly current: number | null };
  /** The filesystem a mount call mounts, or a fault's filesystem (skipped when its mount was refused). */
  readonly fs?: string;
}

/**
 * The machine before it boots: every subsystem's state as the topology declares it (nothing
 * allocated, opened, mounted or faulted yet), and the set-up calls that boot it, in order. The
 * embedded runner runs the calls on its bus; the distributed runner hands each service its
 * state and sends the calls through the services.
 */
export interface BootPlan {
  readonly kernel: Kernel;
  readonly setupCalls: SetupCall[];
}

export function planBoot(scenario: Scenario): BootPlan {
  const kernel: Kernel = {
    pmem: createPmemState(),
    dax: createDaxState(),
    dm: createDmState(),
    xfs: createXfsState({ unbindStrategy: scenario.unbindStrategy ?? 'rmap' }),
    mm: createMmState({ sysctl: scenario.sysctl, hwpoisonFilter: scenario.hwpoisonFilter }),
    panic: null,
  };
  const setupCalls: SetupCall[] = [];
  const boot = { current: null };

  for (const p of scenario.pmem) {
    kernel.pmem.namespaces.set(p.name, {
      name: p.name,
      physAddr: p.physAddr,
      size: p.size,
      dataOffset: p.dataOffset,
      pfnPad: p.pfnPad,
      mode: p.mode,
      badblocks: p.badblocks.map((b) => ({ ...b })),
      bound: true,
    });
    const ns = kernel.pmem.namespaces.get(p.name);
    if (ns && pmemCapacity(ns) <= 0n) throw new Error(`pmem ${p.name} has no capacity`);
    setupCalls.push({ op: 'dax.allocDax', args: { name: p.name, kind: 'pmem', daxCapable: p.mode === 'fsdax' }, ctx: boot });
  }

  for (const d of scenario.dm) {
    const md: MappedDevice = {
      name: d.name,
      mode: d.mode,
      targets: d.table.map((t) => ({
        begin: t.begin,
        len: t.len,
        type: t.type,
        bdev: resolveBdev(scenario, t.device),
        start: t.start,
        componentDax: null,
        componentPartOff: 0n,
      })),
      openers: new Set(),
      removed: false,
    };
    kernel.dm.devices.set(d.name, md);
    setupCalls.push({ op: 'dm.dmCreate', args: { name: d.name }, ctx: boot });
  }

  for (const fs of scenario.filesystems) {
    kernel.xfs.mounts.set(fs.name, createMount(scenario, fs));
    setupCalls.push({ op: 'xfs.xfsMount', args: { fs: fs.name }, ctx: boot, fs: fs.name });
  }

  // Files by filesystem and path, looked up once per mapping (not a scan of every file).
  const filesByPath = new Map(scenario.filesystems.map((f) => [f.name, new Map(f.files.map((file) => [file.path, file]))]));
  // for_each_process() walks tasks in creation order, which is pid order on a real system
  // (kernel-semantics §9: "processes in pid order within an owner").
  for (const proc of [...scenario.processes].sort((a, b) => a.pid - b.pid)) {
    mmAddTask(kernel.mm, {
      pid: proc.pid,
      comm: proc.comm,
      mceKill: proc.mceKill,
      capSysAdmin: proc.capSysAdmin,
      vmas: proc.mmaps.map((m) => {
        const file = filesByPath.get(m.fs)?.get(m.path);
        if (!file) throw new Error(`mmap of unknown file ${m.fs}:${m.path}`);
        return {
          start: m.start,
          pages: BigInt(m.pages),
          pgoff: m.pgoff,
          mapping: mappingId(m.fs, file.ino),
          fs: m.fs,
          ino: file.ino,
          path: m.path,
          shared: m.shared,
          pmd: m.pmd,
        };
      }),
    });
  }
  // Faults run as real faults: processes in order, mappings in order, pages ascending.
  for (const proc of scenario.processes) {
    for (const m of proc.mmaps) {
      for (const page of m.faulted) {
        const addr = m.start + (BigInt(page) << PAGE_SHIFT);
        setupCalls.push({ op: 'mm.userFault', args: { pid: proc.pid, addr }, ctx: { current: proc.pid }, fs: m.fs });
      }
    }
  }
  return { kernel, setupCalls };
}

/**
 * Boots the topology and faults the declared pages in. Set-up traces are kept only when asked
 * for (`trace: 'full'`, the default); 'summary' and 'none' keep none.
 */
export function bootScenario(scenario: Scenario, opts: { trace?: TraceLevel } = {}): BootedKernel {
  const keep = (opts.trace ?? 'full') === 'full';
  const runOpts = { trace: keep ? ('full' as const) : ('none' as const) };
  const { kernel, setupCalls } = planBoot(scenario);
  const setupTraces: TraceCall[] = [];
  const mounts = new Map<string, MountOutcome>();
  for (const call of setupCalls) {
    // A filesystem whose mount was refused takes no further part: nothing of it is faulted.
    if (call.op === 'mm.userFault' && call.fs !== undefined && mounts.get(call.fs)?.mountError) continue;
    const r = runCall(kernel, call.op, call.args as never, call.ctx, runOpts);
    if (keep) setupTraces.push(r.trace);
    if (call.op === 'xfs.xfsMount' && call.fs !== undefined) {
      mounts.set(call.fs, { mountError: (r.result as { mountError: Errno | null } | undefined)?.mountError ?? null });
    }
  }
  return { kernel, setupTraces, mounts };
}
