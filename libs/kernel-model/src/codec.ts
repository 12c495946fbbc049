/**
 * Subsystem state as stored entities: each subsystem's state becomes a set of keyed JSON
 * documents (one per namespace, dax device, mapped device, mount, inode, task, page-table
 * entry, DAX entry, folio, poisoned page, signal, action result) and comes back from them
 * whole. A host stores only the entities a step changed. Values keep bigint, Map and Set.
 */
import type { Subsystem } from './effects';
import type { DaxDevice, DaxState } from './dax/dax';
import type { DmState, MappedDevice } from './dm/dm';
import { createMmState, mmAddTask, type ActionResultRecord, type DaxEntry, type Folio, type MmState, type Pte, type SignalRecord, type Task } from './mm/mm-state';
import type { BdClaim, PmemNamespace, PmemState } from './pmem/pmem';
import type { XfsInode, XfsMount, XfsState } from './xfs/xfs';

/** JSON with bigint (`{"$n":"…"}`), Map (`{"$m":[…]}`) and Set (`{"$s":[…]}`). */
export function encodeJson(value: unknown): string {
  return JSON.stringify(value, function replacer(this: unknown, key: string, v: unknown) {
    const raw = (this as Record<string, unknown>)[key];
    if (typeof raw === 'bigint') return { $n: raw.toString() };
    if (raw instanceof Map) return { $m: [...raw.entries()] };
    if (raw instanceof Set) return { $s: [...raw.values()] };
    return v;
  });
}

export function decodeJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1) {
        if (keys[0] === '$n' && typeof o.$n === 'string') return BigInt(o.$n);
        if (keys[0] === '$m' && Array.isArray(o.$m)) return new Map(o.$m as [unknown, unknown][]);
        if (keys[0] === '$s' && Array.isArray(o.$s)) return new Set(o.$s as unknown[]);
      }
    }
    return v;
  });
}

export type Entities = Map<string, string>;
export type SubsystemState = PmemState | DaxState | DmState | XfsState | MmState;

const pad = (n: number | bigint, width = 12): string => n.toString().padStart(width, '0');

/** The entities of one subsystem's state. xfs rmap records are not entities (see rmap reads). */
export function encodeState(subsys: Subsystem, state: SubsystemState): Entities {
  const out: Entities = new Map();
  const put = (key: string, value: unknown): void => void out.set(key, encodeJson(value));
  switch (subsys) {
    case 'pmem': {
      const s = state as PmemState;
      for (const ns of s.namespaces.values()) put(`ns:${ns.name}`, ns);
      for (const [name, claim] of s.claims) put(`claim:${name}`, claim);
      break;
    }
    case 'dax':
      for (const dev of (state as DaxState).devices.values()) put(`dev:${dev.name}`, dev);
      break;
    case 'dm':
      for (const md of (state as DmState).devices.values()) put(`md:${md.name}`, md);
      break;
    case 'xfs':
      for (const mp of (state as XfsState).mounts.values()) {
        const { inodes, rmap, ...mount } = mp;
        void rmap;
        put(`mount:${mp.name}`, mount);
        for (const ip of inodes.values()) put(`inode:${mp.name}:${ip.ino}`, ip);
      }
      break;
    case 'mm': {
      const mm = state as MmState;
      put('misc', { sysctl: mm.sysctl, hwpoisonFilter: mm.hwpoisonFilter, hwMemoryFailure: mm.hwMemoryFailure, numPoisonedPages: mm.numPoisonedPages });
      mm.tasks.forEach((t, i) => put(`task:${pad(i)}`, t));
      for (const [pid, ptes] of mm.pageTables) for (const [addr, pte] of ptes) put(`pte:${pid}:${addr}`, pte);
      for (const [mapping, entries] of mm.daxEntries) for (const [index, e] of entries) put(`dax:${mapping}\u0000${index}`, { mapping, e });
      for (const [pfn, folio] of mm.folios) put(`folio:${pfn}`, folio);
      for (const pfn of mm.hwpoison) put(`hwp:${pfn}`, pfn);
      mm.signals.forEach((sig, i) => put(`sig:${pad(i)}`, sig));
      mm.actionResults.forEach((ar, i) => put(`ar:${pad(i)}`, ar));
      break;
    }
  }
  return out;
}

function sortedValues(entities: Entities, prefix: string): unknown[] {
  return [...entities.keys()]
    .filter((k) => k.startsWith(prefix))
    .sort()
    .map((k) => decodeJson(entities.get(k) as string));
}

/** Rebuilds a subsystem's state from its entities. xfs rmaps come back empty (see reads). */
export function decodeState(subsys: Subsystem, entities: Entities): SubsystemState {
  const groups = new Map<string, unknown[]>();
  for (const [key, text] of entities) {
    const kind = key.slice(0, key.indexOf(':') < 0 ? key.length : key.indexOf(':'));
    let list = groups.get(kind);
    if (!list) groups.set(kind, (list = []));
    list.push(decodeJson(text));
  }
  const all = <T>(kind: string): T[] => (groups.get(kind) ?? []) as T[];
  switch (subsys) {
    case 'pmem':
      return {
        namespaces: new Map(all<PmemNamespace>('ns').map((ns) => [ns.name, ns])),
        claims: new Map(
          [...entities.keys()].filter((k) => k.startsWith('claim:')).map((k) => [k.slice(6), decodeJson(entities.get(k) as string) as BdClaim]),
        ),
      };
    case 'dax':
      return { devices: new Map(all<DaxDevice>('dev').map((d) => [d.name, d])) };
    case 'dm':
      return { devices: new Map(all<MappedDevice>('md').map((d) => [d.name, d])) };
    case 'xfs': {
      const mounts = new Map<string, XfsMount>();
      for (const m of all<Omit<XfsMount, 'inodes' | 'rmap'>>('mount')) mounts.set(m.name, { ...m, inodes: new Map(), rmap: [] });
      for (const key of entities.keys()) {
        if (!key.startsWith('inode:')) continue;
        const fs = key.slice(6, key.lastIndexOf(':'));
        const ip = decodeJson(entities.get(key) as string) as XfsInode;
        mounts.get(fs)?.inodes.set(ip.ino, ip);
      }
      return { mounts };
    }
    case 'mm': {
      const misc = (all<{ sysctl: MmState['sysctl']; hwpoisonFilter: boolean; hwMemoryFailure: boolean; numPoisonedPages: number }>('misc')[0]) ?? {
        sysctl: { memoryFailureEarlyKill: 0, memoryFailureRecovery: 1 },
        hwpoisonFilter: false,
        hwMemoryFailure: false,
        numPoisonedPages: 0,
      };
      const mm = createMmState({ sysctl: misc.sysctl, hwpoisonFilter: misc.hwpoisonFilter });
      mm.hwMemoryFailure = misc.hwMemoryFailure;
      mm.numPoisonedPages = misc.numPoisonedPages;
      for (const t of sortedValues(entities, 'task:') as Task[]) mmAddTask(mm, t);
      for (const key of entities.keys()) {
        const text = entities.get(key) as string;
        if (key.startsWith('pte:')) {
          const [, pid, addr] = key.split(':');
          let table = mm.pageTables.get(Number(pid));
          if (!table) mm.pageTables.set(Number(pid), (table = new Map()));
          table.set(BigInt(addr as string), decodeJson(text) as Pte);
        } else if (key.startsWith('dax:')) {
          const { mapping, e } = decodeJson(text) as { mapping: string; e: DaxEntry };
          let entries = mm.daxEntries.get(mapping);
          if (!entries) mm.daxEntries.set(mapping, (entries = new Map()));
          entries.set(e.index, e);
        } else if (key.startsWith('folio:')) {
          const folio = decodeJson(text) as Folio;
          mm.folios.set(folio.pfn, folio);
        } else if (key.startsWith('hwp:')) {
          mm.hwpoison.add(decodeJson(text) as bigint);
        }
      }
      mm.signals.push(...(sortedValues(entities, 'sig:') as SignalRecord[]));
      mm.actionResults.push(...(sortedValues(entities, 'ar:') as ActionResultRecord[]));
      return mm;
    }
  }
}

/** What changed between two encodings: entities to write and keys to delete. */
export function diffEntities(before: Entities, after: Entities): { put: Entities; del: string[] } {
  const put: Entities = new Map();
  for (const [k, v] of after) if (before.get(k) !== v) put.set(k, v);
  const del: string[] = [];
  for (const k of before.keys()) if (!after.has(k)) del.push(k);
  return { put, del };
}
