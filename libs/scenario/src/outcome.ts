/**
 * The outcome of a scenario run (scenario-format "The outcome object"): always complete,
 * whatever `expect` lists. Values stay bigint here; `outcomeToJson` writes addresses and
 * pfns as lower-case hex strings.
 */
import {
  daxHolderName,
  hex,
  PAGE_SHIFT,
  shutdownName,
  xfsDaxEnabled,
  type Kernel,
  type MfResult,
  type SiCode,
  type SignalName,
} from '@mfsim/kernel-model';
import type { MountOutcome } from './topology';
import type { Rc, Scenario, ShutdownName } from './scenario.types';

export type InjectionRc = Rc | 'PANIC' | null;

export interface OutcomeSignal {
  pid: number;
  signo: SignalName;
  code: SiCode;
  addr: bigint | null;
  lsb: number | null;
}

export interface Incident {
  id: string;
  incident: string;
  traceId: string;
  status: 'complete' | 'not-run';
}

export interface Outcome {
  injections: Record<string, { rc: InjectionRc }>;
  signals: OutcomeSignal[];
  actionResults: { pfn: bigint; type: string; result: MfResult }[];
  filesystems: Record<string, { shutdown: ShutdownName; frozen: 'none' | 'user'; dax: boolean; mountError: string | null }>;
  devices: Record<string, { alive: boolean; holder: string }>;
  pages: { pfn: bigint; hwpoison: boolean }[];
  ptes: { pid: number; addr: bigint; present: boolean }[];
  incidents: Incident[];
  /** Present only when memory_failure() panicked (vm.memory_failure_recovery = 0). */
  panic?: string;
}

/**
 * Sets `record[key]` as an own property: keys are names from the scenario file, and a plain
 * assignment of `__proto__` would replace the prototype instead of adding an entry.
 */
export function setEntry<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, { value, enumerable: true, writable: true, configurable: true });
}

/** `record[key]` when it is an own entry (never something inherited such as `constructor`). */
export function getEntry<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

export function collectOutcome(
  scenario: Scenario,
  kernel: Kernel,
  mounts: Map<string, MountOutcome>,
  injections: Record<string, { rc: InjectionRc }>,
  targetedPfns: Set<bigint>,
  incidents: Incident[],
): Outcome {
  const mm = kernel.mm;
  const filesystems: Outcome['filesystems'] = {};
  for (const fs of scenario.filesystems) {
    const mp = kernel.xfs.mounts.get(fs.name);
    if (!mp) continue;
    setEntry(filesystems, fs.name, {
      shutdown: shutdownName(mp),
      frozen: mp.frozenUser ? 'user' : 'none',
      dax: xfsDaxEnabled(mp),
      mountError: mounts.get(fs.name)?.mountError ?? null,
    });
  }
  const devices: Outcome['devices'] = {};
  for (const name of [...scenario.pmem.map((p) => p.name), ...scenario.dm.map((d) => d.name)]) {
    const dev = kernel.dax.devices.get(name);
    setEntry(devices, name, { alive: dev?.alive ?? false, holder: dev ? daxHolderName(dev) : 'none' });
  }
  // Every pfn the run touched, every poisoned one, and every one `expect.pages` asks about.
  const pfns = new Set<bigint>([...targetedPfns, ...mm.hwpoison, ...(scenario.expect?.pages ?? []).map((p) => p.pfn)]);
  const pages = [...pfns].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((pfn) => ({ pfn, hwpoison: mm.hwpoison.has(pfn) }));
  const ptes: Outcome['ptes'] = [];
  for (const proc of scenario.processes) {
    const table = mm.pageTables.get(proc.pid);
    for (const m of proc.mmaps) {
      for (let i = 0; i < m.pages; i++) {
        const addr = m.start + (BigInt(i) << PAGE_SHIFT);
        ptes.push({ pid: proc.pid, addr, present: table?.has(addr) ?? false });
      }
    }
  }
  const outcome: Outcome = {
    injections,
    signals: mm.signals.map((s) => ({ ...s })),
    actionResults: mm.actionResults.map((a) => ({ ...a })),
    filesystems,
    devices,
    pages,
    ptes,
    incidents,
  };
  if (kernel.panic) outcome.panic = kernel.panic;
  return outcome;
}

/** JSON form: addresses and pfns as lower-case 0x-hex strings; signals without addr/lsb omit them. */
export function outcomeToJson(o: Outcome): Record<string, unknown> {
  return {
    injections: o.injections,
    signals: o.signals.map((s) => ({
      pid: s.pid,
      signo: s.signo,
      code: s.code,
      ...(s.addr !== null ? { addr: hex(s.addr) } : {}),
      ...(s.lsb !== null ? { lsb: s.lsb } : {}),
    })),
    actionResults: o.actionResults.map((a) => ({ pfn: hex(a.pfn), type: a.type, result: a.result })),
    filesystems: o.filesystems,
    devices: o.devices,
    pages: o.pages.map((p) => ({ pfn: hex(p.pfn), hwpoison: p.hwpoison })),
    ptes: o.ptes.map((p) => ({ pid: p.pid, addr: hex(p.addr), present: p.present })),
    incidents: o.incidents,
    ...(o.panic ? { panic: o.panic } : {}),
  };
}
