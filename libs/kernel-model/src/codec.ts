/**
 * Subsystem state as stored entities: each subsystem's state becomes a set of keyed JSON
 * documents (one per namespace, dax device, mapped device, mount, inode, task, page-table
 * entry, DAX entry, folio, poisoned page, signal, action result) and comes back from them
 * whole. A host stores only the entities a step changed. Values keep bigint, Map and Set.
 */
import type { Subsystem } from './effects';
import type { DaxDevice, DaxState } from './dax/dax';
import type { DmState, MappedDevice } from './dm/dm';
import { createMmState, entriesOf, mmAddTask, ptesOf, type ActionResultRecord, type DaxEntry, type Folio, type MmState, type Pte, type SignalRecord, type Task } from './mm/mm-state';
import type { BdClaim, PmemNamespace, PmemState } from './pmem/pmem';
import type { XfsInode, XfsMount, XfsState } from './xfs/xfs';

/** JSON with bigint (`{"$n":"…"}`), Map (`{"$m":[…]}`) and Set (`{"$s":[…]}`). */
export function encodeJson(value: unknown): string {
  return JSON.stringify(toPlain(value));
}

export function decodeJson(text: string): unknown {
  return fromPlain(JSON.parse(text));
}

function toPlain(v: unknown): unknown {
  if (typeof v === 'bigint') return { $n: v.toString() };
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof Map) return { $m: [...v.entries()].map(([k, x]) => [toPlain(k), toPlain(x)]) };
  if (v instanceof Set) return { $s: [...v.values()].map(toPlain) };
  const out: Record<string, unknown> = {};
  for (const k in v as Record<string, unknown>) {
    const x = (v as Record<string, unknown>)[k];
    if (x !== undefined) out[k] = toPlain(x);
  }
  return out;
}

function fromPlain(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = fromPlain(v[i]);
    return v;
  }
  const o = v as Record<string, unknown>;
  if (typeof o.$n === 'string') return BigInt(o.$n);
  if (Array.isArray(o.$m)) return new Map((o.$m as [unknown, unknown][]).map(([k, x]) => [fromPlain(k), fromPlain(x)]));
  if (Array.isArray(o.$s)) return new Set((o.$s as unknown[]).map(fromPlain));
  for (const k in o) o[k] = fromPlain(o[k]);
  return o;
}

export type Entities = Map<string, string>;
export type SubsystemState = PmemState | DaxState | DmState | XfsState | MmState;

const pad = (n: number | bigint, width = 12): string => n.toString().padStart(width, '0');

/**
 * Encodings of objects the model never changes in place (page-table entries, DAX entries,
 * tasks, inodes, signals, action results: it replaces them), so a step re-encodes only what is
 * new or mutable.
 */
const frozenText = new WeakMap<object, string>();

/** The entities of one subsystem's state. xfs rmap records are not entities (see rmap reads). */
export function encodeState(subsys: Subsystem, state: SubsystemState): Entities {
  const out: Entities = new Map();
  const put = (key: string, value: unknown): void => void out.set(key, encodeJson(value));
  const putFrozen = (key: string, value: object): void => void out.set(key, frozen(value));
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
      if ((state as XfsState).unbindStrategy) put('strategy', (state as XfsState).unbindStrategy);
      for (const mp of (state as XfsState).mounts.values()) {
        const { inodes, rmap, ...mount } = mp;
        void rmap;
        put(`mount:${mp.name}`, mount);
        for (const ip of inodes.values()) putFrozen(`inode:${mp.name}:${ip.ino}`, ip);
      }
      break;
    case 'mm': {
      const mm = state as MmState;
      put('misc', { sysctl: mm.sysctl, hwpoisonFilter: mm.hwpoisonFilter, hwMemoryFailure: mm.hwMemoryFailure, numPoisonedPages: mm.numPoisonedPages });
      mm.tasks.forEach((t, i) => putFrozen(`task:${pad(i)}`, t));
      for (const [pid, ptes] of mm.pageTables) {
        putGroup(out, ptes, `pte:${pid}`, () => {
          const list: [string, string][] = [];
          for (const [addr, pte] of ptes) list.push([`pte:${pid}:${addr}`, frozen(pte)]);
          return list;
        });
      }
      for (const [mapping, entries] of mm.daxEntries) {
        putGroup(out, entries, `dax:${mapping}`, () => {
          const list: [string, string][] = [];
          for (const [index, e] of entries) list.push([`dax:${mapping}\u0000${index}`, daxEntryText(mapping, e)]);
          return list;
        });
      }
      // Folios change in place (share counts, mapping): encoded every time, by hand (the hot path).
      for (const [pfn, f] of mm.folios) {
        out.set(
          `folio:${pfn}`,
          `{"pfn":{"$n":"${f.pfn}"},"order":${f.order},"mapping":${f.mapping === null ? 'null' : JSON.stringify(f.mapping)},"index":{"$n":"${f.index}"},"share":${f.share}}`,
        );
      }
      for (const pfn of mm.hwpoison) put(`hwp:${pfn}`, pfn);
      mm.signals.forEach((sig, i) => putFrozen(`sig:${pad(i)}`, sig));
      mm.actionResults.forEach((ar, i) => putFrozen(`ar:${pad(i)}`, ar));
      break;
    }
  }
  return out;
}

function frozen(value: object): string {
  let text = frozenText.get(value);
  if (text === undefined) frozenText.set(value, (text = encodeJson(value)));
  return text;
}

/** Encoded entries of a container that counts its changes (`gen`), reused while it has not changed. */
const groupTexts = new WeakMap<object, { gen: number; name: string; list: [string, string][] }>();

function putGroup(out: Entities, container: object, name: string, encode: () => [string, string][]): void {
  const gen = (container as { gen?: unknown }).gen;
  let cached = typeof gen === 'number' ? groupTexts.get(container) : undefined;
  if (!cached || cached.gen !== gen || cached.name !== name) {
    cached = { gen: typeof gen === 'number' ? gen : -1, name, list: encode() };
    if (typeof gen === 'number') groupTexts.set(container, cached);
  }
  for (const [k, v] of cached.list) out.set(k, v);
}

const daxEntryTexts = new WeakMap<object, string>();

function daxEntryText(mapping: string, e: DaxEntry): string {
  let text = daxEntryTexts.get(e);
  if (text === undefined) daxEntryTexts.set(e, (text = encodeJson({ mapping, e })));
  return text;
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
      const strategy = entities.get('strategy');
      return strategy ? { mounts, unbindStrategy: decodeJson(strategy) as XfsState['unbindStrategy'] } : { mounts };
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
          ptesOf(mm, Number(pid)).set(BigInt(addr as string), decodeJson(text) as Pte);
        } else if (key.startsWith('dax:')) {
          const { mapping, e } = decodeJson(text) as { mapping: string; e: DaxEntry };
          entriesOf(mm, mapping).set(e.index, e);
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
