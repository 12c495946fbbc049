/**
 * The checker of a chaos history (docs/chaos-history.md): replays the acknowledged injections
 * through the embedded model and compares, operation by operation and in the final state, what
 * the stack did with what the model does; checks that every fault took effect, that every
 * operation completed and that the consumer lag drained; measures each fault's recovery time.
 *
 * An `info` operation (and one that never completed) is indeterminate, as in Jepsen: it may or
 * may not have happened, so the model is run with and without each of them (2^k runs, k bounded)
 * and the history passes when any of these runs matches.
 *
 * Operations that do not commute (an unbind: every injection on its device answers differently
 * before and after it) are judged as races, as Knossos does: the model replays a linearization
 * consistent with real time (A goes before B only when A completed before B was invoked), so an
 * operation whose [invoke, complete] interval overlaps an unbind's may be placed on either side
 * of it. The search is bounded: the observed rc and signal count of each overlapping operation
 * choose its side (the model's "before" and "after" answers come from two probe replays), then
 * that order, the invoke order, all-before and all-after are each replayed once (at most
 * `maxOrders`), and an order that violates real time is never replayed.
 *
 * The services run an unbind as many hops, so an operation may also have been handled inside it,
 * between two hops: answers that match neither side (and rc-0 pages left unpoisoned) are placed
 * at the hop boundary of the unbind that explains them (the `points` order; runScenario's
 * `inside`, src/interleave.ts), greedily and bounded by `maxPointReplays`.
 */
import { compareOutcome, type Mismatch } from '../compare';
import { type InjectionRc, type Outcome, type OutcomeSignal } from '../outcome';
import { parseScenario } from '../parse-scenario';
import { explainMismatch } from '../render';
import { runScenario, type InsidePlacement, type RunIds } from '../run-scenario';
import type { ExpectSpec, InjectionSpec, Scenario } from '../scenario.types';
import type { FaultRef, History, HistoryOp, IncidentRecord } from './history';

export type AnomalyName =
  | 'lost'
  | 'duplicate-signal'
  | 'duplicate-unmap'
  | 'wrong-outcome'
  | 'unfinished'
  | 'lag-not-drained'
  | 'fault-not-effective'
  | 'too-many-indeterminate';

export interface Anomaly {
  readonly name: AnomalyName;
  readonly detail: string;
  readonly injection?: string;
  readonly incident?: string;
  /** wrong-outcome: the top-level outcome field that differs (signals, pages, rc, ...). */
  readonly field?: string;
  /** lag-not-drained: the consumer group. */
  readonly group?: string;
  /** fault-not-effective: the fault. */
  readonly fault?: FaultRef;
}

export interface Recovery {
  readonly fault: FaultRef;
  /** When the fault started and ended (ms since the run started; end null: it never ended). */
  readonly start: number;
  readonly end: number | null;
  /** From the fault's end to the first moment every group's lag is 0 and no incident is open; null if never. */
  readonly ms: number | null;
}

export interface CheckStats {
  readonly invoked: number;
  readonly ok: number;
  readonly fail: number;
  readonly info: number;
  readonly unfinished: number;
  readonly faults: number;
  readonly lagSamples: number;
  /** How many times the embedded model was run (2^k for k indeterminate operations, or fewer). */
  readonly modelRuns: number;
  /** The incidents of the indeterminate operations the best-matching model run assumed happened. */
  readonly assumedHappened: string[];
  /** The order the best-matching model run replayed (docs/chaos-history.md, "Races"). */
  readonly linearization: Linearization;
}

/** Which order the model replayed: `invoke` order, or one that moves operations racing a non-commuting one. */
export type OrderName = 'points' | 'invoke' | 'guided' | 'all-before' | 'all-after';

export interface Linearization {
  /** The order of the best-matching model run. */
  readonly order: OrderName;
  /** The orders replayed (real-time-consistent candidates, at most maxOrders). */
  readonly ordersTried: OrderName[];
  /** Each non-commuting operation (an unbind) and the operations racing it, as the chosen order placed them. */
  readonly around: LinearizedAround[];
  /**
   * Racing operations whose answer matches neither side of their unbind, placed at a hop
   * boundary inside it (the `points` order); `boundary` null: no boundary explains it (it stays
   * where the guided order put it).
   */
  readonly points: LinearizationPoint[];
  /** Model runs spent searching those boundaries. */
  readonly pointReplays: number;
}

export interface LinearizationPoint {
  readonly injection: string;
  readonly incident: string;
  /** The unbind it was placed inside. */
  readonly host: string;
  /** The hop boundary (1-based) it runs at, of `boundaries` the unbind's call tree has; null: none matched. */
  readonly boundary: number | null;
  readonly boundaries: number;
  /**
   * Why: `answer` (its rc / signal count match neither side), `state` (they match a side, the
   * final state does not: e.g. acknowledged rc 0, page not HWPoison), `real-time` (another
   * operation placed inside forced it in, e.g. it was invoked after that one completed).
   */
  readonly reason: 'answer' | 'state' | 'real-time';
}

export interface LinearizedAround {
  readonly injection: string;
  readonly incident: string;
  /** Operations whose [invoke, complete] interval overlaps this one's. */
  readonly overlapping: number;
  /** Of these, how many the chosen order placed before / after it. */
  readonly before: number;
  readonly after: number;
  /** How many it placed inside it, at a hop boundary. */
  readonly inside: number;
  /** How many sit on the other side of it than in invoke order. */
  readonly moved: number;
}

export interface CheckResult {
  readonly ok: boolean;
  readonly anomalies: Anomaly[];
  readonly recovery: Recovery[];
  readonly stats: CheckStats;
}

export interface CheckOptions {
  /** The scenario text when the run line names a file (the caller reads it). */
  readonly scenarioText?: string;
  /** Shown in scenario problems; default the run line's `scenario`. */
  readonly scenarioFile?: string;
  /** At most this many indeterminate operations are explored (2^k model runs); default 12. */
  readonly maxIndeterminate?: number;
  /** At most this many orders are replayed around non-commuting operations; default 5. */
  readonly maxOrders?: number;
  /** At most this many model runs search the hop boundaries inside unbinds; default 2000. */
  readonly maxPointReplays?: number;
}

/** The history cannot be checked (it names an unknown injection, its scenario is invalid, ...). */
export class HistoryCheckError extends Error {
  constructor(
    readonly line: number,
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export const DEFAULT_MAX_INDETERMINATE = 12;
export const DEFAULT_MAX_ORDERS = 5;
export const DEFAULT_MAX_POINT_REPLAYS = 2000;

/** Injection kinds that do not commute with the operations on their device: they are linearized. */
const NON_COMMUTING: ReadonlySet<InjectionSpec['kind']> = new Set(['unbind']);

/** Whether the run line's `scenario` is the scenario text itself rather than a path. */
export function isInlineScenario(scenario: string): boolean {
  return scenario.includes('\n');
}

interface Invocation {
  readonly invoke: HistoryOp;
  completion: HistoryOp | null;
}

type Json = Record<string, unknown>;

function bigHex(v: unknown, line: number, field: string): bigint {
  if (typeof v !== 'string' || !/^0x[0-9a-fA-F]+$/.test(v)) throw new HistoryCheckError(line, field, `must be a 0x-hex string, got ${JSON.stringify(v)}`);
  return BigInt(v);
}

function asArray(v: unknown): Json[] {
  return Array.isArray(v) ? (v as Json[]) : [];
}

/** The final state (outcomeToJson form) back as an Outcome, for compareOutcome. */
function stateOutcome(state: Json, line: number): Outcome {
  return {
    injections: {},
    signals: asArray(state.signals).map((s, i) => ({
      pid: s.pid as number,
      signo: (s.signo ?? 'SIGBUS') as OutcomeSignal['signo'],
      code: s.code as OutcomeSignal['code'],
      addr: s.addr === undefined ? null : bigHex(s.addr, line, `state.signals[${i}].addr`),
      lsb: typeof s.lsb === 'number' ? s.lsb : null,
    })),
    actionResults: asArray(state.actionResults).map((a, i) => ({
      pfn: bigHex(a.pfn, line, `state.actionResults[${i}].pfn`),
      type: String(a.type),
      result: a.result as Outcome['actionResults'][number]['result'],
    })),
    filesystems: (state.filesystems ?? {}) as Outcome['filesystems'],
    devices: (state.devices ?? {}) as Outcome['devices'],
    pages: asArray(state.pages).map((p, i) => ({ pfn: bigHex(p.pfn, line, `state.pages[${i}].pfn`), hwpoison: p.hwpoison === true })),
    ptes: asArray(state.ptes).map((p, i) => ({ pid: p.pid as number, addr: bigHex(p.addr, line, `state.ptes[${i}].addr`), present: p.present === true })),
    incidents: [],
  };
}

/** Everything the model's outcome says, as an `expect` (so compareOutcome names each difference). */
function expectFromModel(o: Outcome): ExpectSpec {
  return {
    signals: o.signals.map((s) => ({ pid: s.pid, signo: s.signo, code: s.code, addr: s.addr ?? undefined, lsb: s.lsb ?? undefined })),
    actionResults: o.actionResults.map((a) => ({ pfn: a.pfn, type: a.type, result: a.result })),
    filesystems: Object.fromEntries(Object.entries(o.filesystems).map(([k, v]) => [k, { ...v }])) as ExpectSpec['filesystems'],
    devices: Object.fromEntries(Object.entries(o.devices).map(([k, v]) => [k, { ...v }])),
    pages: o.pages.map((p) => ({ ...p })),
    ptes: o.ptes.map((p) => ({ ...p })),
  };
}

function signalKey(s: OutcomeSignal): string {
  return `${s.pid}|${s.signo}|${s.code}|${s.addr === null ? '-' : `0x${s.addr.toString(16)}`}`;
}

function describeSignalKey(key: string): string {
  const [pid, signo, code, addr] = key.split('|') as [string, string, string, string];
  return `${signo} ${code} to pid ${pid}${addr === '-' ? '' : ` at ${addr}`}`;
}

function times(n: number): string {
  return n === 1 ? 'once' : `${n} times`;
}

function topField(path: string): string {
  return path.split(/[.[ ]/)[0] as string;
}

interface Attempt {
  readonly anomalies: Anomaly[];
  readonly assumed: string[];
  /** The model's answer for each replayed operation. */
  readonly answers: Map<Invocation, Answer>;
}

function deterministicIds(): RunIds {
  let n = 0;
  let t = 0;
  return {
    incidentId: () => `model-${++n}`,
    traceId: () => (++t).toString(16).padStart(32, '0'),
  };
}

/** Racing operations run inside a non-commuting one, at one of its hop boundaries. */
type Inside = ReadonlyMap<Invocation, { readonly host: Invocation; readonly boundary: number }>;

interface Answer {
  readonly rc: InjectionRc | null;
  readonly sent: number;
}

interface Replay {
  readonly outcome: Outcome;
  /** The model's rc and signal count of each replayed operation. */
  readonly answers: Map<Invocation, Answer>;
  /** The hop boundaries of each host of `inside` (and of each `probe`). */
  readonly boundaries: Map<Invocation, number>;
}

/**
 * One model run over `chosen`, in that order, with the operations of `inside` run inside their
 * host (when the host is chosen) at their boundary; `probe` hosts count their boundaries.
 */
function replay(scenario: Scenario, chosen: readonly Invocation[], inside: Inside = new Map(), probe: readonly Invocation[] = []): Replay {
  const byId = new Map(scenario.injections.map((i) => [i.id, i] as const));
  // A copy per chosen operation: the same injection may be sent twice.
  const injections = chosen.map((c) => ({ ...(byId.get(c.invoke.injection) as InjectionSpec) }) as InjectionSpec);
  const index = new Map(chosen.map((c, j) => [c, j] as const));
  const placements = new Map<number, InsidePlacement[]>();
  for (const h of probe) if (index.has(h)) placements.set(index.get(h) as number, []);
  for (const [o, at] of inside) {
    const h = index.get(at.host);
    const j = index.get(o);
    if (h === undefined || j === undefined) continue;
    placements.set(h, [...(placements.get(h) ?? []), { index: j, boundary: at.boundary }]);
  }
  const run = runScenario({ ...scenario, injections }, deterministicIds(), { trace: 'none', inside: placements });
  const of = new Map(run.injections.map((r) => [r.injection, r] as const));
  const answers = new Map<Invocation, Answer>();
  const boundaries = new Map<Invocation, number>();
  chosen.forEach((c, j) => {
    const r = of.get(injections[j] as InjectionSpec);
    answers.set(c, { rc: r?.rc ?? null, sent: r?.sent ?? 0 });
    if (r?.boundaries !== undefined) boundaries.set(c, r.boundaries);
  });
  return { outcome: run.outcome, answers, boundaries };
}

/** One model run over `chosen` (in the given order), compared with the history. */
function attempt(scenario: Scenario, chosen: Invocation[], inside: Inside, state: Outcome, records: readonly IncidentRecord[] | undefined, assumed: string[]): Attempt {
  const run = replay(scenario, chosen, inside);
  const model = run.outcome;
  const anomalies: Anomaly[] = [];

  // Duplicated deliveries: a signal the stack sent more often than the model sends it.
  const modelCount = new Map<string, number>();
  for (const s of model.signals) modelCount.set(signalKey(s), (modelCount.get(signalKey(s)) ?? 0) + 1);
  const seen = new Map<string, number>();
  const kept: OutcomeSignal[] = [];
  for (const s of state.signals) {
    const key = signalKey(s);
    const n = (seen.get(key) ?? 0) + 1;
    seen.set(key, n);
    const m = modelCount.get(key) ?? 0;
    if (m > 0 && n > m) continue; // counted below, not a wrong outcome as well
    kept.push(s);
  }
  for (const [key, n] of seen) {
    const m = modelCount.get(key) ?? 0;
    if (m > 0 && n > m)
      anomalies.push({ name: 'duplicate-signal', field: 'signals', detail: `${describeSignalKey(key)} sent ${times(n)}, the model sends it ${times(m)}` });
  }

  // Concurrent operations complete in any order: the action results (one per poisoned pfn) are
  // compared as a multiset, as the signals are (docs/chaos-history.md).
  const byPfn = <T extends { pfn: bigint; type: string; result: unknown }>(xs: readonly T[]): T[] =>
    [...xs].sort((a, b) => (a.pfn < b.pfn ? -1 : a.pfn > b.pfn ? 1 : `${a.type}${String(a.result)}`.localeCompare(`${b.type}${String(b.result)}`)));
  const mismatches: Mismatch[] = compareOutcome(expectFromModel({ ...model, actionResults: byPfn(model.actionResults) }), {
    ...state,
    signals: kept,
    actionResults: byPfn(state.actionResults),
  });
  // Pages the stack poisoned that the model never touches.
  const modelPages = new Set(model.pages.map((p) => p.pfn));
  for (const p of state.pages)
    if (p.hwpoison && !modelPages.has(p.pfn)) mismatches.push({ path: `pages (pfn 0x${p.pfn.toString(16)}).hwpoison`, expected: false, actual: true });
  for (const m of mismatches) anomalies.push({ name: 'wrong-outcome', field: topField(m.path), detail: `final state: ${explainMismatch(m)}` });

  // Operation by operation: the rc each acknowledged injection returned.
  chosen.forEach((c) => {
    const done = c.completion;
    if (done?.phase !== 'ok' || done.rc === undefined) return;
    const rc = run.answers.get(c)?.rc ?? null;
    if (done.rc !== rc)
      anomalies.push({
        name: 'wrong-outcome',
        field: 'rc',
        injection: c.invoke.injection,
        incident: c.invoke.incident,
        detail: `rc of ${c.invoke.injection} (line ${done.line}): expected ${JSON.stringify(rc)}, got ${JSON.stringify(done.rc)}`,
      });
  });
  // Incident by incident: the signals the stack's records say each incident sent.
  if (records) {
    const byIncident = new Map(records.map((r) => [r.incident, r] as const));
    chosen.forEach((c) => {
      const rec = byIncident.get(c.invoke.incident);
      const m = run.answers.get(c)?.sent ?? 0;
      if (!rec || rec.signals === m) return;
      const where = { injection: c.invoke.injection, incident: c.invoke.incident };
      if (rec.signals > m && m > 0)
        anomalies.push({ name: 'duplicate-signal', field: 'records.signals', ...where, detail: `incident ${c.invoke.incident} sent ${rec.signals} signal(s), the model sends ${m}` });
      else
        anomalies.push({ name: 'wrong-outcome', field: 'records.signals', ...where, detail: `records: incident ${c.invoke.incident} sent ${rec.signals} signal(s), expected ${m}` });
    });
  }
  return { anomalies, assumed, answers: run.answers };
}

/**
 * An acknowledged (rc 0) injection of one pfn whose page the final state shows not HWPoison:
 * no side of an unbind explains that, a point inside it may (docs/chaos-history.md).
 */
function notPoisoned(scenario: Scenario, o: Invocation, state: Outcome): boolean {
  if (o.completion?.phase !== 'ok' || o.completion.rc !== 0) return false;
  const inj = scenario.injections.find((i) => i.id === o.invoke.injection);
  const pfn = inj && (inj.kind === 'corruptPfn' || inj.kind === 'mce' || inj.kind === 'background') ? inj.pfn : null;
  return pfn !== null && state.pages.some((p) => p.pfn === pfn && !p.hwpoison);
}

/** When an operation completed: never, for an indeterminate one (it may take effect at any later time). */
function completedAt(i: Invocation): number {
  return i.completion?.phase === 'ok' ? i.completion.time : Infinity;
}

/** A completed before B was invoked: real time puts A first in every linearization. */
function precedes(a: Invocation, b: Invocation): boolean {
  return completedAt(a) < b.invoke.time;
}

/** A non-commuting operation and the operations whose intervals overlap its own. */
interface Race {
  readonly barrier: Invocation;
  readonly index: number;
  readonly overlapping: Invocation[];
}

function findRaces(scenario: Scenario, replayed: readonly Invocation[]): Race[] {
  const kind = new Map(scenario.injections.map((i) => [i.id, i.kind] as const));
  const isBarrier = (i: Invocation): boolean => NON_COMMUTING.has(kind.get(i.invoke.injection) as InjectionSpec['kind']);
  const races: Race[] = [];
  replayed.forEach((b, index) => {
    if (!isBarrier(b)) return;
    const overlapping = replayed.filter((o) => o !== b && !isBarrier(o) && !precedes(o, b) && !precedes(b, o));
    races.push({ barrier: b, index, overlapping });
  });
  return races;
}

/**
 * Where a racing operation goes: `before` its first overlapping non-commuting operation, `after`
 * its last, `keep` its invoke-order place, `either` wherever real time allows (its answer is the
 * same on both sides): before when it completed before some operation placed before was invoked.
 */
type Side = 'keep' | 'before' | 'after' | 'either';

interface CandidateOrder {
  readonly name: OrderName;
  readonly ops: Invocation[];
  /** The `points` order: operations run inside an unbind. */
  readonly inside?: Inside;
}

/**
 * The replayed operations with each racing one moved to its side. Null when that order puts some
 * B before an A that completed before B was invoked.
 */
function placeOps(replayed: readonly Invocation[], races: readonly Race[], side: (o: Invocation) => Side): Invocation[] | null {
  const keys = new Map<Invocation, [number, number, number]>();
  replayed.forEach((o, i) => keys.set(o, [i, 0, 0]));
  const anchors = new Map<Invocation, number[]>();
  for (const r of races) for (const o of r.overlapping) anchors.set(o, [...(anchors.get(o) ?? []), r.index]);
  const sides = new Map<Invocation, Side>();
  for (const o of anchors.keys()) sides.set(o, side(o));
  // The latest invoke among the operations that go before each non-commuting one.
  const latestBefore = new Map<number, number>();
  for (const r of races) {
    let t = r.barrier.invoke.time;
    for (const o of r.overlapping) if (sides.get(o) === 'before' || (sides.get(o) === 'keep' && o.invoke.line < r.barrier.invoke.line)) t = Math.max(t, o.invoke.time);
    latestBefore.set(r.index, t);
  }
  for (const [o, at] of anchors) {
    let s = sides.get(o) as Side;
    if (s === 'either') s = completedAt(o) < (latestBefore.get(Math.min(...at)) as number) ? 'before' : 'after';
    const i = (keys.get(o) as [number, number, number])[0];
    if (s === 'before') keys.set(o, [Math.min(...at), -1, i]);
    else if (s === 'after') keys.set(o, [Math.max(...at), 1, i]);
  }
  const key = (o: Invocation) => keys.get(o) as [number, number, number];
  const ops = [...replayed].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
  // Real time: no operation may come after one that was invoked after it completed.
  let latestInvoke = -Infinity;
  for (const o of ops) {
    if (completedAt(o) < latestInvoke) return null;
    latestInvoke = Math.max(latestInvoke, o.invoke.time);
  }
  return ops;
}

/**
 * The orders to replay, best guess first: the one the observed answers point to, the invoke
 * order, every racing operation before / after. `probes` model runs were spent on the guess.
 */
function candidateOrders(
  scenario: Scenario,
  replayed: readonly Invocation[],
  races: readonly Race[],
  records: readonly IncidentRecord[] | undefined,
  maxOrders: number,
  maxPointReplays: number,
  judge: (ops: Invocation[], inside: Inside) => Attempt,
  suspect: (o: Invocation) => boolean,
): { candidates: CandidateOrder[]; probes: number; points: LinearizationPoint[]; pointReplays: number } {
  const invoke: CandidateOrder = { name: 'invoke', ops: [...replayed] };
  if (!races.some((r) => r.overlapping.length > 0)) return { candidates: [invoke], probes: 0, points: [], pointReplays: 0 };
  const allBefore = placeOps(replayed, races, () => 'before');
  const allAfter = placeOps(replayed, races, () => 'after');
  // The model's answer for each racing operation on either side (they commute with each other).
  const answers = (ops: Invocation[] | null): Map<Invocation, Answer> => (ops ? replay(scenario, ops).answers : new Map<Invocation, Answer>());
  const before = answers(allBefore);
  const after = answers(allAfter);
  const probes = (allBefore ? 1 : 0) + (allAfter ? 1 : 0);
  const signals = new Map((records ?? []).map((r) => [r.incident, r.signals] as const));
  const guided = placeOps(replayed, races, (o) => {
    const done = o.completion;
    if (done?.phase !== 'ok') return 'either';
    const seen = signals.get(o.invoke.incident);
    const score = (a: Answer | undefined): number =>
      a === undefined ? -1 : (done.rc !== undefined && done.rc === a.rc ? 1 : 0) + (seen !== undefined && seen === a.sent ? 1 : 0);
    const b = score(before.get(o));
    const a = score(after.get(o));
    return b > a ? 'before' : a > b ? 'after' : 'either';
  });
  // Racing operations whose answer matches neither side: a hop boundary inside the unbind.
  const matches = (o: Invocation, a: Answer | undefined): boolean => {
    const done = o.completion;
    const seen = signals.get(o.invoke.incident);
    return a !== undefined && done?.phase === 'ok' && done.rc === a.rc && (seen === undefined || seen === a.sent);
  };
  const host = new Map<Invocation, Invocation>();
  for (const r of races) for (const o of r.overlapping) if (!host.has(o)) host.set(o, r.barrier);
  const neither = guided
    ? [...host.keys()].filter((o) => o.completion?.phase === 'ok' && !matches(o, before.get(o)) && !matches(o, after.get(o))).sort((x, y) => x.invoke.line - y.invoke.line)
    : [];
  const search = guided && (neither.length > 0 || [...host.keys()].some(suspect)) ? searchPoints(scenario, guided, neither, guided.filter((o) => host.has(o) && !neither.includes(o) && suspect(o)), host, matches, judge, maxPointReplays) : null;
  const candidates: CandidateOrder[] = [];
  const seen = new Set<string>();
  const ids = new Map(replayed.map((o, i) => [o, i] as const));
  for (const c of [
    search && search.inside.size > 0 && guided && { name: 'points' as const, ops: guided, inside: search.inside },
    guided && { name: 'guided' as const, ops: guided },
    invoke,
    allBefore && { name: 'all-before' as const, ops: allBefore },
    allAfter && { name: 'all-after' as const, ops: allAfter },
  ]) {
    if (!c) continue;
    const sig = c.ops.map((o) => `${ids.get(o)}${c.inside?.has(o) ? `@${c.inside.get(o)?.boundary}` : ''}`).join(',');
    if (seen.has(sig)) continue;
    seen.add(sig);
    candidates.push(c);
  }
  return { candidates: candidates.slice(0, Math.max(1, maxOrders)), probes, points: search?.points ?? [], pointReplays: search?.replays ?? 0 };
}

/**
 * The operations `ops` (in that order) with those of `inside` moved inside their host, in
 * effect order; null when that breaks real time (some B before an A that completed before B
 * was invoked).
 */
function insideOrder(ops: readonly Invocation[], inside: Inside): Invocation[] | null {
  const pos = new Map(ops.map((o, i) => [o, i] as const));
  // At one boundary, the operations run in the order `inside` lists them.
  const nth = new Map([...inside.keys()].map((o, i) => [o, i + 1] as const));
  const key = (o: Invocation): [number, number, number] => {
    const at = inside.get(o);
    return at && pos.has(at.host) ? [pos.get(at.host) as number, at.boundary, nth.get(o) as number] : [pos.get(o) as number, 0, 0];
  };
  const seq = [...ops].sort((a, b) => {
    const [x, y] = [key(a), key(b)];
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2];
  });
  let latestInvoke = -Infinity;
  for (const o of seq) {
    if (completedAt(o) < latestInvoke) return null;
    latestInvoke = Math.max(latestInvoke, o.invoke.time);
  }
  return seq;
}

type Placed = Map<Invocation, { host: Invocation; boundary: number }>;

/**
 * The operations `anchored` places inside their hosts, and the ones real time then forces inside
 * as well: an operation of the same race placed before the host that was invoked after some
 * operation inside it completed goes inside at the latest such one's boundary (the earliest spot
 * real time allows it), one placed after the host that completed before some operation inside
 * was invoked goes at the earliest such one's boundary (the latest spot). Repeated until nothing
 * moves. At one boundary the operations run in invoke order.
 */
function closeInside(ops: readonly Invocation[], anchored: Placed, host: ReadonlyMap<Invocation, Invocation>): { inside: Placed; pushed: Invocation[] } {
  const pos = new Map(ops.map((o, i) => [o, i] as const));
  const all: Placed = new Map(anchored);
  const free = ops.filter((x) => host.has(x) && !anchored.has(x));
  for (let changed = true; changed; ) {
    changed = false;
    for (const x of free) {
      const h = host.get(x) as Invocation;
      const early = (pos.get(x) as number) < (pos.get(h) as number);
      let at: number | undefined;
      for (const [n, p] of all) {
        if (n === x || p.host !== h) continue;
        if (early && completedAt(n) < x.invoke.time) at = Math.max(at ?? -Infinity, p.boundary);
        if (!early && completedAt(x) < n.invoke.time) at = Math.min(at ?? Infinity, p.boundary);
      }
      if (at !== undefined && all.get(x)?.boundary !== at) {
        all.set(x, { host: h, boundary: at });
        changed = true;
      }
    }
  }
  const inside: Placed = new Map(
    [...all].sort(([x, p], [y, q]) => (pos.get(p.host) as number) - (pos.get(q.host) as number) || p.boundary - q.boundary || x.invoke.time - y.invoke.time),
  );
  return { inside, pushed: free.filter((x) => all.has(x)) };
}

/**
 * Greedy, in invoke order: each operation of `neither` goes to a hop boundary of its host at
 * which the model's answer for it (rc, signal count) is the observed one, real time permitting
 * (with the operations real time then forces inside too, see closeInside: their answers must
 * match as well, unless their own turn is still to come), the operations placed before it
 * staying where they are. Of those boundaries,
 * the one whose whole replay (`judge`: compared with the history as a candidate order is) has
 * the fewest anomalies, the first on a tie: several boundaries give the same answer but not the
 * same final state (a page poisoned before or after the pre-remove walk reached its file).
 * Each operation of `suspects` (an answer that matches a side, a final state that says
 * otherwise) goes the same way, kept only when the whole replay has fewer anomalies than without
 * it; both kinds in one pass, in invoke order. At most `maxReplays` model runs.
 */
function searchPoints(
  scenario: Scenario,
  ops: Invocation[],
  neither: readonly Invocation[],
  suspects: readonly Invocation[],
  host: ReadonlyMap<Invocation, Invocation>,
  matches: (o: Invocation, a: Answer | undefined) => boolean,
  judge: (ops: Invocation[], inside: Inside) => Attempt,
  maxReplays: number,
): { inside: Placed; points: LinearizationPoint[]; replays: number } {
  const anchored: Placed = new Map();
  const reasons = new Map<Invocation, LinearizationPoint['reason']>();
  let inside: Placed = new Map();
  let pushed: Invocation[] = [];
  let replays = 0;
  const hosts = [...new Set([...neither, ...suspects].map((o) => host.get(o) as Invocation))];
  // How many boundaries each host has (with nothing inside it).
  const count = new Map<Invocation, number>();
  if (maxReplays > 0) {
    const r = replay(scenario, ops, new Map(), hosts);
    replays++;
    for (const [h, n] of r.boundaries) count.set(h, n);
  }
  const unexplained: Invocation[] = [];
  // Operations still to be searched: real time may push one in early, its own turn places it.
  const pending = new Set<Invocation>();
  const search = (o: Invocation, reason: LinearizationPoint['reason'], fewest: number): void => {
    const h = host.get(o) as Invocation;
    // The operations still to be searched are left out of these replays: wherever real time
    // would put them now, their anomalies would weigh on this one's boundary.
    const judged = ops.filter((x) => !pending.has(x));
    let found: { b: number; inside: Placed; pushed: Invocation[] } | null = null;
    for (let b = 1; b <= (count.get(h) ?? 0) && replays < maxReplays; b++) {
      const trial = closeInside(ops, new Map(anchored).set(o, { host: h, boundary: b }), host);
      if (!insideOrder(ops, trial.inside)) continue;
      const a = judge(judged, trial.inside);
      replays++;
      if ([o, ...trial.pushed.filter((x) => !pending.has(x))].every((x) => matches(x, a.answers.get(x))) && a.anomalies.length < fewest) {
        found = { b, ...trial };
        fewest = a.anomalies.length;
        if (fewest === 0) break;
      }
    }
    if (found) {
      anchored.set(o, { host: h, boundary: found.b });
      reasons.set(o, reason);
      inside = found.inside;
      pushed = found.pushed;
    } else if (reason === 'answer') unexplained.push(o);
  };
  // One pass in invoke order: an operation placed inside constrains, by real time, where the
  // ones invoked after it completed can go.
  const queue = [...neither, ...suspects].sort((x, y) => x.invoke.line - y.invoke.line);
  for (const o of queue) pending.add(o);
  for (const o of queue) {
    pending.delete(o);
    if (anchored.has(o) || replays >= maxReplays) {
      if (!anchored.has(o) && neither.includes(o)) unexplained.push(o);
      continue;
    }
    if (neither.includes(o)) {
      search(o, 'answer', Infinity);
      continue;
    }
    const base = judge(
      ops.filter((x) => !pending.has(x)),
      inside,
    );
    replays++;
    search(o, 'state', base.anomalies.length);
  }
  const point = (x: Invocation, reason: LinearizationPoint['reason'], boundary: number | null): LinearizationPoint => {
    const h = host.get(x) as Invocation;
    return { injection: x.invoke.injection, incident: x.invoke.incident, host: h.invoke.injection, boundary, boundaries: count.get(h) ?? 0, reason };
  };
  const points = [
    ...[...inside].map(([x, p]) => point(x, pushed.includes(x) ? 'real-time' : (reasons.get(x) ?? 'answer'), p.boundary)),
    ...unexplained.map((x) => point(x, 'answer', null)),
  ];
  return { inside, points, replays };
}

/** Where the chosen order put the operations racing each non-commuting one. */
function describeRaces(races: readonly Race[], ops: readonly Invocation[], inside: Inside = new Map()): LinearizedAround[] {
  const pos = new Map(ops.map((o, i) => [o, i] as const));
  return races.map((r) => {
    const at = pos.get(r.barrier);
    let before = 0;
    let moved = 0;
    let within = 0;
    for (const o of r.overlapping) {
      const p = pos.get(o);
      if (p === undefined || at === undefined) continue;
      if (inside.get(o)?.host === r.barrier) {
        within++;
        continue;
      }
      const isBefore = p < at;
      if (isBefore) before++;
      if (isBefore !== o.invoke.line < r.barrier.invoke.line) moved++;
    }
    const placed = r.overlapping.filter((o) => pos.has(o)).length;
    return {
      injection: r.barrier.invoke.injection,
      incident: r.barrier.invoke.incident,
      overlapping: r.overlapping.length,
      before,
      after: at === undefined ? 0 : placed - before - within,
      inside: within,
      moved,
    };
  });
}

function faultName(f: FaultRef): string {
  return `${f.kind} ${f.target}`;
}

/** Checks a parsed history. Throws HistoryCheckError when it cannot be checked at all. */
export function checkHistory(history: History, opts: CheckOptions = {}): CheckResult {
  const { run, events, final } = history;
  const text = opts.scenarioText ?? (isInlineScenario(run.scenario) ? run.scenario : undefined);
  if (text === undefined) throw new HistoryCheckError(run.line, 'scenario', `names the file ${run.scenario}, whose text was not given`);
  const parsed = parseScenario(text, opts.scenarioFile ?? (isInlineScenario(run.scenario) ? '(inline scenario)' : run.scenario));
  if (!parsed.ok) {
    const i = parsed.issues[0];
    throw new HistoryCheckError(run.line, 'scenario', `invalid scenario: ${i ? `${i.file}: ${i.path}: ${i.message}` : 'unknown problem'}`);
  }
  const scenario = parsed.scenario;
  const known = new Set(scenario.injections.map((i) => i.id));
  const anomalies: Anomaly[] = [];

  // Operations.
  const invocations: Invocation[] = [];
  const byIncident = new Map<string, Invocation>();
  let okN = 0;
  let failN = 0;
  let infoN = 0;
  for (const e of events) {
    if (e.type !== 'op') continue;
    if (!known.has(e.injection)) throw new HistoryCheckError(e.line, 'injection', `the scenario has no injection ${e.injection}`);
    if (e.phase === 'invoke') {
      const inv: Invocation = { invoke: e, completion: null };
      invocations.push(inv);
      byIncident.set(e.incident, inv);
    } else {
      (byIncident.get(e.incident) as Invocation).completion = e;
      if (e.phase === 'ok') okN++;
      else if (e.phase === 'fail') failN++;
      else infoN++;
    }
  }
  const unfinished = invocations.filter((i) => i.completion === null);
  for (const u of unfinished)
    anomalies.push({
      name: 'unfinished',
      injection: u.invoke.injection,
      incident: u.invoke.incident,
      detail: `${u.invoke.injection} (incident ${u.invoke.incident}, line ${u.invoke.line}) was invoked and never completed`,
    });

  // Acknowledged incidents the stack has no trace of.
  const records = final.records;
  const stateIncidents = Array.isArray(final.state.incidents) ? (final.state.incidents as Json[]) : null;
  for (const inv of invocations) {
    if (inv.completion?.phase !== 'ok') continue;
    const id = inv.invoke.incident;
    let missing: string | null = null;
    if (records) {
      if (!records.some((r) => r.incident === id)) missing = 'the final records';
    } else if (stateIncidents && !stateIncidents.some((x) => x.incident === id && x.status === 'complete')) missing = 'the final state';
    if (missing)
      anomalies.push({
        name: 'lost',
        injection: inv.invoke.injection,
        incident: id,
        detail: `${inv.invoke.injection} was acknowledged (line ${inv.completion.line}) but incident ${id} is missing from ${missing}`,
      });
  }
  for (const r of records ?? []) {
    const count = new Map<string, number>();
    for (const u of r.unmaps) count.set(`${u.pid} ${u.addr}`, (count.get(`${u.pid} ${u.addr}`) ?? 0) + 1);
    for (const [key, n] of count) {
      if (n < 2) continue;
      const [pid, addr] = key.split(' ');
      anomalies.push({
        name: 'duplicate-unmap',
        incident: r.incident,
        ...(r.injection !== undefined ? { injection: r.injection } : {}),
        detail: `incident ${r.incident} unmapped pid ${pid} ${addr} ${times(n)}`,
      });
    }
  }

  // The model: acknowledged operations happened, failed ones did not, indeterminate ones may have;
  // operations racing a non-commuting one may have happened on either side of it.
  const max = opts.maxIndeterminate ?? DEFAULT_MAX_INDETERMINATE;
  const replayed = invocations.filter((i) => i.completion?.phase !== 'fail');
  const indeterminate = replayed.filter((i) => i.completion === null || i.completion.phase === 'info');
  let modelRuns = 0;
  let assumed: string[] = [];
  let linearization: Linearization = { order: 'invoke', ordersTried: [], around: [], points: [], pointReplays: 0 };
  if (indeterminate.length > max) {
    anomalies.push({
      name: 'too-many-indeterminate',
      detail: `${indeterminate.length} operations are indeterminate (info or unfinished); at most ${max} can be explored (2^${max} model runs)`,
    });
  } else {
    const state = stateOutcome(final.state, final.line);
    const races = findRaces(scenario, replayed);
    const orders = candidateOrders(scenario, replayed, races, records, opts.maxOrders ?? DEFAULT_MAX_ORDERS, opts.maxPointReplays ?? DEFAULT_MAX_POINT_REPLAYS, (ops, inside) =>
      attempt(scenario, ops, inside, state, records, []),
      (o) => notPoisoned(scenario, o, state),
    );
    modelRuns += orders.probes + orders.pointReplays;
    let best: { attempt: Attempt; order: CandidateOrder } | null = null;
    search: for (const order of orders.candidates) {
      for (let mask = 0; mask < 2 ** indeterminate.length; mask++) {
        const skipped = new Set(indeterminate.filter((_, b) => ((mask >> b) & 1) === 1));
        const chosen = order.ops.filter((i) => !skipped.has(i));
        const a = attempt(
          scenario,
          chosen,
          order.inside ?? new Map(),
          state,
          records,
          indeterminate.filter((i) => !skipped.has(i)).map((i) => i.invoke.incident),
        );
        modelRuns++;
        if (best === null || a.anomalies.length < best.attempt.anomalies.length) best = { attempt: a, order };
        if (a.anomalies.length === 0) break search;
      }
    }
    if (best) {
      anomalies.push(...best.attempt.anomalies);
      assumed = best.attempt.assumed;
      linearization = {
        order: best.order.name,
        ordersTried: orders.candidates.map((c) => c.name),
        around: describeRaces(races, best.order.ops, best.order.inside),
        points: orders.points,
        pointReplays: orders.pointReplays,
      };
    }
  }

  // Faults: each start must be followed by an effect before its end.
  const recovery: Recovery[] = [];
  const openFaults = new Map<string, { fault: FaultRef; start: number; line: number; effect: boolean }>();
  const ended: { fault: FaultRef; start: number; end: number | null; effect: boolean; line: number }[] = [];
  let faultCount = 0;
  for (const e of events) {
    if (e.type !== 'fault') continue;
    const key = `${e.fault.kind}\u0000${e.fault.target}`;
    const o = openFaults.get(key);
    if (e.phase === 'start') {
      if (o) throw new HistoryCheckError(e.line, 'phase', `fault ${faultName(e.fault)} started again before it ended (started line ${o.line})`);
      openFaults.set(key, { fault: e.fault, start: e.time, line: e.line, effect: false });
      faultCount++;
      continue;
    }
    if (!o) throw new HistoryCheckError(e.line, 'phase', `${e.phase} of fault ${faultName(e.fault)}, which has not started`);
    if (e.phase === 'effect') o.effect = true;
    else {
      ended.push({ fault: o.fault, start: o.start, end: e.time, effect: o.effect, line: o.line });
      openFaults.delete(key);
    }
  }
  for (const o of openFaults.values()) ended.push({ fault: o.fault, start: o.start, end: null, effect: o.effect, line: o.line });
  ended.sort((a, b) => a.line - b.line);
  for (const f of ended) {
    if (!f.effect)
      anomalies.push({
        name: 'fault-not-effective',
        fault: f.fault,
        detail: `fault ${faultName(f.fault)} (started line ${f.line}) has no effect line: nothing shows it took effect`,
      });
    recovery.push({ fault: f.fault, start: f.start, end: f.end, ms: f.end === null ? null : recoveredAt(history, f.start, f.end) });
  }

  // Lag: the last sample of every group must be 0.
  const lastLag = new Map<string, { time: number; lag: number; line: number }>();
  let lagSamples = 0;
  for (const e of events) {
    if (e.type !== 'lag') continue;
    lagSamples++;
    const l = lastLag.get(e.group);
    if (!l || e.time >= l.time) lastLag.set(e.group, { time: e.time, lag: e.lag, line: e.line });
  }
  const lastEnd = ended.reduce<number | null>((m, f) => (f.end !== null && (m === null || f.end > m) ? f.end : m), null);
  for (const [group, l] of lastLag)
    if (l.lag > 0)
      anomalies.push({
        name: 'lag-not-drained',
        group,
        detail: `consumer group ${group} still had lag ${l.lag} at its last sample (line ${l.line}, ${l.time} ms${lastEnd !== null ? `; the last fault ended at ${lastEnd} ms` : ''})`,
      });

  return {
    ok: anomalies.length === 0,
    anomalies,
    recovery,
    stats: {
      invoked: invocations.length,
      ok: okN,
      fail: failN,
      info: infoN,
      unfinished: unfinished.length,
      faults: faultCount,
      lagSamples,
      modelRuns,
      assumedHappened: assumed,
      linearization,
    },
  };
}

/**
 * The first moment t >= `end` (the fault's end or a later event's time) at which every operation
 * invoked before the fault ended has completed by t, and every consumer group's latest lag sample
 * is back at its level before the fault (its last sample before `start`, 0 when none); ms from
 * `end`. Operations invoked after the end and the lag of a workload still running do not hold
 * the recovery back.
 */
function recoveredAt(history: History, start: number, end: number): number | null {
  const candidates = [...new Set([end, ...history.events.map((e) => e.time).filter((t) => t >= end)])].sort((a, b) => a - b);
  const invokes = history.events.filter((e): e is HistoryOp => e.type === 'op' && e.phase === 'invoke' && e.time <= end);
  const done = new Map<string, number>();
  for (const e of history.events) if (e.type === 'op' && e.phase !== 'invoke') done.set(e.incident, e.time);
  // Operations: the first moment all of those invoked before the end are done.
  const opsDone = invokes.reduce((m, i) => Math.max(m, done.get(i.incident) ?? Infinity), end);
  if (opsDone === Infinity) return null;
  const lags = history.events.filter((e): e is Extract<History['events'][number], { type: 'lag' }> => e.type === 'lag');
  const baseline = new Map<string, number>();
  for (const l of lags) if (l.time < start) baseline.set(l.group, l.lag);
  const latest = new Map<string, number>();
  let k = 0;
  for (const t of candidates) {
    while (k < lags.length && (lags[k] as { time: number }).time <= t) {
      const l = lags[k++] as { group: string; lag: number };
      latest.set(l.group, l.lag);
    }
    if (t < opsDone) continue;
    if ([...latest].some(([g, lag]) => lag > (baseline.get(g) ?? 0))) continue;
    return t - end;
  }
  return null;
}
