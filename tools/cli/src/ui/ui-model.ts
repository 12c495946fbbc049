/**
 * The pure half of `mfsim ui`: one incident as the page draws it (the kernel call tree as hops
 * with their service and times, the signals and why, the rmap owners, the shutdowns, the dm path),
 * the facets the list is filtered by (devices, pfns, pids), the parsing of the API's query
 * (a malformed filter is a one-line 400) and trace links. Nothing here touches the network or
 * reads a clock: times come in as arguments.
 */
import { decodeJson, hex, KERNEL_FUNCTION, MF, ownerOf, type CallRecord, type OpName, type TraceCall } from '@mfsim/kernel-model';
import { renderTrace } from '@mfsim/scenario';

import { traceUrl as incidentTraceUrl } from '../distributed/trace-link';

export const SERVICES = ['pmem-driver', 'dax-core', 'dm-mapper', 'xfs-fs', 'mm-process'] as const;
const SERVICE_OF: Readonly<Record<string, string>> = { pmem: 'pmem-driver', dax: 'dax-core', dm: 'dm-mapper', xfs: 'xfs-fs', mm: 'mm-process' };

export function serviceOfOp(op: string): string {
  try {
    return SERVICE_OF[ownerOf(op as OpName)] ?? op.split('.')[0] ?? op;
  } catch {
    return SERVICE_OF[op.split('.')[0] ?? ''] ?? 'unknown';
  }
}

export function kernelFn(op: string): string {
  return (KERNEL_FUNCTION as Record<string, string>)[op] ?? op;
}

export interface LogLine {
  readonly kind: 'log';
  readonly level: string;
  readonly text: string;
}

/** One call in an incident's tree. Times are epoch milliseconds, null when nothing recorded one. */
export interface Hop {
  readonly kind: 'hop';
  readonly id: string;
  readonly op: string;
  readonly fn: string;
  readonly service: string;
  /** `fn(args) = result` as `mfsim scenario run` prints it. */
  readonly text: string;
  readonly status: 'done' | 'open' | 'panic' | 'error' | 'unrecorded';
  /** The first call of a chain on its service (a message arrived for it): it has its own times. */
  readonly chainRoot: boolean;
  readonly startMs: number | null;
  readonly endMs: number | null;
  readonly items: (Hop | LogLine)[];
}

/** When a service's call record was first stored and last written (its row's created_at / updated_at). */
export interface RecordTimes {
  readonly createdMs: number;
  readonly updatedMs: number;
}

export interface Signal {
  readonly signo: string;
  readonly code: string;
  readonly pid: number;
  readonly comm: string;
  readonly addr: string;
  readonly lsb: number;
  readonly forced: boolean;
  /**
   * late kill (forced AR to the task that touched the page), early kill, device removal, or a
   * page fault on a poisoned page or a dead device (the fault handler's own SIGBUS).
   */
  readonly kill: 'late' | 'early' | 'pre-remove' | 'fault';
  readonly why: string;
  /** The hop (mf_dax_kill_procs / memory_failure) it was sent from. */
  readonly hop: string;
}

export interface RmapOwner {
  readonly mapping: string;
  readonly pgoff: string;
  readonly pgcnt: string;
  readonly hop: string;
}

export interface Shutdown {
  readonly fs: string;
  readonly text: string;
  readonly hop: string;
}

export interface Facets {
  readonly devices: string[];
  readonly pfns: string[];
  readonly pids: number[];
}

export interface IncidentHead {
  readonly id: string;
  readonly run: string;
  readonly op: string;
  readonly fn: string;
  readonly service: string;
  readonly args: string;
  readonly status: 'open' | 'done' | 'panic' | 'error';
  readonly result: string;
  readonly startedMs: number;
  readonly finishedMs: number | null;
}

export interface IncidentDetail {
  readonly incident: IncidentHead;
  readonly tree: Hop | null;
  /** 'recorded': hops carry their services' record times; 'order': no time exists, bars show order. */
  readonly timing: 'recorded' | 'order';
  readonly signals: Signal[];
  readonly owners: RmapOwner[];
  readonly shutdowns: Shutdown[];
  /** The dm functions the failure went through, in order; empty: not through device-mapper. */
  readonly dmPath: string[];
  readonly facets: Facets;
  readonly traceUrl: string | null;
}

function oneLine(op: string, args: unknown, result: unknown): string {
  try {
    return renderTrace({ kind: 'call', op: op as OpName, args, result, children: [] }, { color: false, verbose: true })[0] ?? kernelFn(op);
  } catch {
    return `${kernelFn(op)}(…)`;
  }
}

/**
 * An incident's tree from the call records the five services kept (any order), with the times
 * of their rows. A chain root takes its own row's times (mm-process copies a chain to
 * PostgreSQL once it has finished, so its start is the incident's start for the root chain and
 * unknown otherwise: it is then drawn at its end); a call inside a chain shares its chain's.
 */
export function hopsFromRecords(rootId: string, records: readonly CallRecord[], times: ReadonlyMap<string, RecordTimes>, incidentStartMs: number | null): Hop | null {
  const byId = new Map(records.map((r) => [r.id, r]));
  const build = (id: string, parent: { start: number | null; end: number | null } | null, op: string, args: unknown, fallbackResult: unknown): Hop => {
    const rec = byId.get(id);
    if (!rec) {
      return { kind: 'hop', id, op, fn: kernelFn(op), service: serviceOfOp(op), text: oneLine(op, args, fallbackResult), status: 'unrecorded', chainRoot: true, startMs: null, endMs: null, items: [] };
    }
    const chainRoot = rec.chain === rec.id;
    const t = times.get(rec.id);
    let start: number | null = parent?.start ?? null;
    let end: number | null = parent?.end ?? null;
    if (chainRoot && t) {
      const isMmCopy = ownerOf(rec.op) === 'mm';
      start = isMmCopy ? (rec.id === rootId && incidentStartMs !== null ? incidentStartMs : t.updatedMs) : t.createdMs;
      end = rec.status === 'open' ? null : Math.max(start, t.updatedMs);
    } else if (chainRoot) {
      start = null;
      end = null;
    }
    const items: (Hop | LogLine)[] = [];
    for (const ev of rec.events) {
      if (ev.kind === 'log') items.push({ kind: 'log', level: ev.level, text: ev.text });
      else {
        const child = rec.children[ev.index];
        if (child) items.push(build(child.id, { start, end }, child.op, child.args, child.done ? child.result : undefined));
      }
    }
    return {
      kind: 'hop',
      id: rec.id,
      op: rec.op,
      fn: kernelFn(rec.op),
      service: serviceOfOp(rec.op),
      text: oneLine(rec.op, rec.args, rec.status === 'done' ? rec.result : undefined),
      status: rec.status,
      chainRoot,
      startMs: start,
      endMs: end,
      items,
    };
  };
  const root = byId.get(rootId);
  if (!root) return null;
  return build(rootId, null, root.op, root.args, undefined);
}

/** An embedded run's trace as hops: no times (the embedded model has no clock), ids by position. */
export function hopsFromTrace(rootId: string, trace: TraceCall, argsInto?: Map<string, unknown>): Hop {
  const build = (node: TraceCall, id: string, parentService: string | null): Hop => {
    const service = serviceOfOp(node.op);
    argsInto?.set(id, node.args);
    let n = 0;
    const items: (Hop | LogLine)[] = node.children.map((c) => (c.kind === 'log' ? { kind: 'log', level: c.level, text: c.text } : build(c, `${id}.${++n}`, service)));
    return {
      kind: 'hop',
      id,
      op: node.op,
      fn: kernelFn(node.op),
      service,
      text: oneLine(node.op, node.args, node.result),
      status: 'done',
      chainRoot: service !== parentService,
      startMs: null,
      endMs: null,
      items,
    };
  };
  return build(trace, rootId, null);
}

/** Every hop of a tree, depth first (a caller before its calls). */
export function flatten(root: Hop | null): Hop[] {
  const out: Hop[] = [];
  const walk = (h: Hop): void => {
    out.push(h);
    for (const i of h.items) if (i.kind === 'hop') walk(i);
  };
  if (root) walk(root);
  return out;
}

const SIGNAL_LINE = /^→ (SIG[A-Z]+) (\S+) si_addr=(\S+) si_addr_lsb=(\d+) to (.+):(\d+)( \(forced\))?$/;
const FAULT_LINE = /^(.+):(\d+): VM_FAULT_(HWPOISON|SIGBUS)(?: \(-(\w+)\))? at (0x[0-9a-f]+): (SIG[A-Z]+) (BUS_\w+)$/;
const SHUTDOWN_LINE = /^XFS \(([^)]+)\): .*Shutting down filesystem\.$/;

/** The decoded args of the records (for flags and facets), by hop id. */
export type ArgsOf = (hopId: string) => unknown;

function mfFlagsOf(args: unknown): number | null {
  if (args && typeof args === 'object' && typeof (args as { mfFlags?: unknown }).mfFlags === 'number') return (args as { mfFlags: number }).mfFlags;
  return null;
}

/** Signals, rmap owners and shutdowns found in a tree, and the dm functions it went through. */
export function findings(root: Hop | null, argsOf: ArgsOf): Pick<IncidentDetail, 'signals' | 'owners' | 'shutdowns' | 'dmPath'> {
  const signals: Signal[] = [];
  const owners: RmapOwner[] = [];
  const shutdowns: Shutdown[] = [];
  const dmPath: string[] = [];
  const walk = (h: Hop, preRemove: boolean): void => {
    const flags = mfFlagsOf(argsOf(h.id));
    const pre = preRemove || (flags !== null && (flags & MF.MF_MEM_PRE_REMOVE) !== 0);
    if (h.service === 'dm-mapper') dmPath.push(h.fn);
    if (h.op === 'mm.mfDaxKillProcs') {
      const a = argsOf(h.id) as { mapping?: unknown; pgoff?: unknown; pgcnt?: unknown } | undefined;
      owners.push({ mapping: String(a?.mapping ?? '?'), pgoff: String(a?.pgoff ?? '?'), pgcnt: String(a?.pgcnt ?? '?'), hop: h.id });
    }
    for (const item of h.items) {
      if (item.kind === 'hop') {
        walk(item, pre);
        continue;
      }
      const s = SIGNAL_LINE.exec(item.text);
      if (s) {
        const forced = s[7] !== undefined;
        const code = s[2] as string;
        const kill: Signal['kill'] = forced || code.endsWith('_AR') ? 'late' : pre ? 'pre-remove' : 'early';
        const why =
          kill === 'late'
            ? 'late kill: the task touched the poisoned page (MF_ACTION_REQUIRED, current task), forced'
            : kill === 'pre-remove'
              ? 'device removal (MF_MEM_PRE_REMOVE): every task mapping the page is told'
              : 'early kill: the task asked for early kills (PR_MCE_KILL_EARLY / vm.memory_failure_early_kill)';
        signals.push({ signo: s[1] as string, code, addr: s[3] as string, lsb: Number(s[4]), comm: s[5] as string, pid: Number(s[6]), forced, kill, why, hop: h.id });
        continue;
      }
      const f = FAULT_LINE.exec(item.text);
      if (f) {
        const why =
          f[3] === 'HWPOISON'
            ? 'page fault on a poisoned page (VM_FAULT_HWPOISON)'
            : `page fault on a page that cannot be mapped (VM_FAULT_SIGBUS, -${f[4] ?? 'EIO'}): the device or filesystem is gone`;
        signals.push({ signo: f[6] as string, code: f[7] as string, addr: f[5] as string, lsb: f[3] === 'HWPOISON' ? 12 : 0, comm: f[1] as string, pid: Number(f[2]), forced: false, kill: 'fault', why, hop: h.id });
        continue;
      }
      const d = SHUTDOWN_LINE.exec(item.text);
      if (d) shutdowns.push({ fs: d[1] as string, text: item.text, hop: h.id });
    }
  };
  if (root) walk(root, false);
  return { signals, owners, shutdowns, dmPath };
}

const DEVICE_KEYS = new Set(['disk', 'daxDev', 'md', 'device', 'fs', 'partition', 'dev', 'name']);

function collectFacets(value: unknown, key: string, out: { devices: Set<string>; pfns: Set<string>; pids: Set<number> }, depth = 0): void {
  if (depth > 4 || value === null || value === undefined) return;
  if (key === 'pfn' && (typeof value === 'bigint' || typeof value === 'number')) out.pfns.add(hex(BigInt(value)));
  else if (key === 'pid' && typeof value === 'number') out.pids.add(value);
  else if (key === 'mapping' && typeof value === 'string' && value.includes(':')) out.devices.add(value.slice(0, value.indexOf(':')));
  else if (DEVICE_KEYS.has(key) && typeof value === 'string' && value.length > 0 && value.length <= 64) out.devices.add(value);
  else if (typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) collectFacets(v, k, out, depth + 1);
  }
}

/** The devices, pfns (hex) and pids an incident touched: its root's args, every call's args, the signals. */
export function facetsOf(rootArgs: unknown, allArgs: readonly unknown[], signals: readonly Signal[]): Facets {
  const out = { devices: new Set<string>(), pfns: new Set<string>(), pids: new Set<number>() };
  collectFacets(rootArgs, '', out);
  for (const a of allArgs) collectFacets(a, '', out);
  for (const s of signals) out.pids.add(s.pid);
  return { devices: [...out.devices].sort(), pfns: [...out.pfns].sort(), pids: [...out.pids].sort((a, b) => a - b) };
}

/** Args of a stored root (encodeJson text), or the text itself when it does not decode. */
export function decodeArgs(text: string): unknown {
  try {
    return decodeJson(text);
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------------------------
// The API's query: filters and paging. A malformed value is a one-line 400.

export const DEFAULT_PAGE = 50;
export const MAX_PAGE = 500;

export interface ListQuery {
  readonly device?: string;
  readonly pfn?: string;
  readonly pid?: number;
  readonly status?: IncidentHead['status'];
  readonly run?: string;
  readonly offset: number;
  readonly limit: number;
}

const STATUSES = ['open', 'done', 'panic', 'error'] as const;

/** Parses `?device=&pfn=&pid=&status=&run=&offset=&limit=`; unknown parameters are refused too. */
export function parseListQuery(params: URLSearchParams): ListQuery | { problem: string } {
  const q: { -readonly [K in keyof ListQuery]: ListQuery[K] } = { offset: 0, limit: DEFAULT_PAGE };
  for (const [key, raw] of params) {
    const v = raw.trim();
    if (v === '') continue;
    switch (key) {
      case 'device':
        if (!/^[A-Za-z0-9_.:-]{1,64}$/.test(v)) return { problem: `device: ${JSON.stringify(clip(v))} is not a device name (pmem0, dm-0, xfs0, …)` };
        q.device = v;
        break;
      case 'pfn': {
        const n = /^0x[0-9a-f]{1,16}$/i.test(v) ? BigInt(v) : /^[0-9]{1,20}$/.test(v) ? BigInt(v) : null;
        if (n === null || n >= 1n << 64n) return { problem: `pfn: ${JSON.stringify(clip(v))} is not a page frame number (hex 0x123450 or decimal)` };
        q.pfn = hex(n);
        break;
      }
      case 'pid':
        if (!/^[0-9]{1,9}$/.test(v)) return { problem: `pid: ${JSON.stringify(clip(v))} is not a process id (a whole number)` };
        q.pid = Number(v);
        break;
      case 'status':
        if (!(STATUSES as readonly string[]).includes(v)) return { problem: `status: ${JSON.stringify(clip(v))} must be one of ${STATUSES.join(', ')}` };
        q.status = v as ListQuery['status'];
        break;
      case 'run':
        if (v.length > 64) return { problem: `run: a run id has at most 64 characters, got ${v.length}` };
        q.run = v;
        break;
      case 'offset':
        if (!/^[0-9]{1,9}$/.test(v)) return { problem: `offset: ${JSON.stringify(clip(v))} is not a whole number` };
        q.offset = Number(v);
        break;
      case 'limit':
        if (!/^[0-9]{1,4}$/.test(v) || Number(v) < 1 || Number(v) > MAX_PAGE) return { problem: `limit: needs a whole number from 1 to ${MAX_PAGE}, got ${JSON.stringify(clip(v))}` };
        q.limit = Number(v);
        break;
      default:
        return { problem: `unknown parameter ${JSON.stringify(clip(key))} (device, pfn, pid, status, run, offset, limit)` };
    }
  }
  return q;
}

function clip(text: string): string {
  return text.length <= 40 ? text : `${text.slice(0, 39)}…`;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isIncidentId(text: string): boolean {
  return UUID.test(text);
}

/** The trace link of an incident (its trace id is its uuid without dashes), or null. */
export function traceUrl(template: string | null, incidentId: string): string | null {
  return template ? (incidentTraceUrl(template, incidentId) ?? null) : null;
}

/** A summary row of the list. */
export interface ListItem extends IncidentHead {
  readonly facets: Facets;
  readonly signals: number;
}

/** Does an item pass a query's filters (paging aside)? */
export function matches(item: ListItem, q: ListQuery): boolean {
  if (q.status && item.status !== q.status) return false;
  if (q.run && item.run !== q.run) return false;
  if (q.device && !item.facets.devices.includes(q.device)) return false;
  if (q.pfn && !item.facets.pfns.includes(q.pfn)) return false;
  if (q.pid !== undefined && !item.facets.pids.includes(q.pid)) return false;
  return true;
}

/** A chaos fault on the page's timeline (absolute epoch ms). */
export interface FaultSpan {
  readonly kind: string;
  readonly target: string;
  readonly startMs: number;
  readonly effectMs: number | null;
  readonly endMs: number | null;
  readonly seen: string | null;
}
