/**
 * The embedded runner: boot the topology, run the injections in order (each after the
 * previous one has completely finished propagating), collect the full outcome and compare
 * it with `expect`.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { runCall, type BusResult, type Kernel, type OpName, type RunCallOptions, type TraceCall, type TraceLevel, type TraceNode, type TraceSummary } from '@mfsim/kernel-model';
import { injectionCall } from './injection-call';
import { runCallAtBoundaries } from './interleave';
import { compareOutcome, type Mismatch } from './compare';
import { collectOutcome, setEntry, type Incident, type InjectionRc, type Outcome } from './outcome';
import type { InjectionSpec, Scenario } from './scenario.types';
import { bootScenario } from './topology';

export interface InjectionRun {
  readonly injection: InjectionSpec;
  readonly rc: InjectionRc;
  /**
   * null when the injection did not run (the kernel had panicked before it). With a trace level
   * other than 'full' only the root call (no children).
   */
  readonly trace: TraceCall | null;
  /** With trace 'summary': the counts. */
  readonly summary?: TraceSummary;
  readonly incident: Incident;
  /** Signals the injection sent (not counting injections run inside it); set by runScenario. */
  readonly sent?: number;
  /** For a host of RunScenarioOptions.inside: how many hop boundaries its call tree had. */
  readonly boundaries?: number;
  /** For an injection run inside another: the host's id and the boundary. */
  readonly inside?: { readonly host: string; readonly boundary: number };
}

/** An injection run inside another at a hop boundary (src/interleave.ts). */
export interface InsidePlacement {
  /** The nested injection's index in scenario.injections. */
  readonly index: number;
  /** The host's boundary (1-based) before which it runs; past the host's last one: right after the host. */
  readonly boundary: number;
}

export interface ScenarioRun {
  readonly scenario: Scenario;
  readonly outcome: Outcome;
  readonly mismatches: Mismatch[];
  readonly pass: boolean;
  /** Kept only when asked (RunScenarioOptions.setupTrace), else empty. */
  readonly setupTraces: TraceCall[];
  readonly injections: InjectionRun[];
  readonly kernel: Kernel;
}

export interface RunIds {
  incidentId(): string;
  traceId(): string;
}

export const randomRunIds: RunIds = {
  incidentId: () => randomUUID(),
  traceId: () => randomBytes(16).toString('hex'),
};

/** Sends one injection into the kernel as the call the scenario format names. */
export function injectOnce(kernel: Kernel, inj: InjectionSpec, opts: RunCallOptions = {}): BusResult<unknown> {
  switch (inj.kind) {
    case 'madvise':
      return runCall(kernel, 'mm.madviseInjectError', { pid: inj.pid, start: inj.addr, pages: BigInt(inj.pages) }, { current: inj.pid }, opts);
    case 'corruptPfn':
      return runCall(kernel, 'mm.hwpoisonInject', { pfn: inj.pfn }, { current: null }, opts);
    case 'mce':
      return runCall(kernel, 'mm.doMachineCheck', { pid: inj.pid, pfn: inj.pfn, ripv: inj.ripv }, { current: inj.pid }, opts);
    case 'background':
      return runCall(kernel, 'mm.ucDecodeNotifier', { pfn: inj.pfn }, { current: null }, opts);
    case 'unbind':
      if (kernel.dm.devices.has(inj.device)) return runCall(kernel, 'dm.dmRemove', { md: inj.device }, { current: inj.pid }, opts);
      return runCall(kernel, 'pmem.ndPmemRemove', { disk: inj.device }, { current: inj.pid }, opts);
    case 'access':
      return runCall(kernel, 'mm.userAccess', { pid: inj.pid, addr: inj.addr }, { current: inj.pid }, opts);
    default: {
      const never: never = inj;
      throw new Error(`unknown injection ${JSON.stringify(never)}`);
    }
  }
}

/** Every pfn memory_failure() was called for inside a trace. */
export function memoryFailurePfns(node: TraceNode, into: Set<bigint>): Set<bigint> {
  if (node.kind !== 'call') return into;
  if (node.op === 'mm.memoryFailure') into.add((node.args as { pfn: bigint }).pfn);
  for (const child of node.children) memoryFailurePfns(child, into);
  return into;
}

function injectionPfn(inj: InjectionSpec): bigint | null {
  return inj.kind === 'corruptPfn' || inj.kind === 'mce' || inj.kind === 'background' ? inj.pfn : null;
}

export interface RunScenarioOptions {
  /** What to keep of each injection's trace; default 'full'. */
  readonly trace?: TraceLevel;
  /** What to keep of the set-up calls' traces; default 'none' (nothing kept unless asked). */
  readonly setupTrace?: TraceLevel;
  /** Called after each injection (also one not run), with the kernel as it left it (the chaos checker counts signals). */
  readonly onInjection?: (run: InjectionRun, kernel: Kernel) => void;
  /**
   * Linearization points inside a call (docs/chaos-history.md): by the host's index in
   * scenario.injections, the injections to run inside it, each at one of its hop boundaries,
   * against the same kernel. They are not run in their own place. A host listed with no
   * placements runs the same way and reports its `boundaries` count. Traces of hosts and nested
   * injections: the root call only.
   */
  readonly inside?: ReadonlyMap<number, readonly InsidePlacement[]>;
}

export function runScenario(scenario: Scenario, ids: RunIds = randomRunIds, opts: RunScenarioOptions = {}): ScenarioRun {
  const { kernel, setupTraces, mounts } = bootScenario(scenario, { trace: opts.setupTrace ?? 'none' });
  const runs: InjectionRun[] = [];
  const rcs: Record<string, { rc: InjectionRc }> = {};
  const targeted = new Set<bigint>();
  const inside = opts.inside ?? new Map<number, readonly InsidePlacement[]>();
  const nested = new Set([...inside.values()].flatMap((ps) => ps.map((p) => p.index)));
  const onCall = (call: { op: OpName; args: unknown }): void => {
    if (call.op === 'mm.memoryFailure') targeted.add((call.args as { pfn: bigint }).pfn);
  };
  // Signals sent by the injections running inside the current one, not counted as its own.
  let nestedSignals = 0;
  const runOne = (inj: InjectionSpec, where?: InjectionRun['inside']): void => {
    const incident: Incident = { id: inj.id, incident: ids.incidentId(), traceId: ids.traceId(), status: 'not-run' };
    const pfn = injectionPfn(inj);
    if (kernel.panic) {
      setEntry(rcs, inj.id, { rc: null });
      runs.push({ injection: inj, rc: null, trace: null, incident, ...(where ? { inside: where } : {}) });
      opts.onInjection?.(runs[runs.length - 1] as InjectionRun, kernel);
      return;
    }
    if (pfn !== null) targeted.add(pfn);
    const signalsBefore = kernel.mm.signals.length;
    const nestedBefore = nestedSignals;
    const placements = where ? undefined : inside.get(scenario.injections.indexOf(inj));
    let rc: InjectionRc;
    let run: InjectionRun;
    if (placements) {
      const at = (b: number): void => {
        for (const p of placements) if (p.boundary === b) runNested(p, inj.id, b);
      };
      const c = injectionCall(scenario, inj);
      const r = runCallAtBoundaries(kernel, c.op, c.args, c.ctx, at, onCall);
      // Placements past the host's last boundary run right after it.
      for (const p of placements) if (p.boundary > r.boundaries) runNested(p, inj.id, p.boundary);
      rc = r.panic ? 'PANIC' : (r.result as InjectionRc);
      const trace: TraceCall = { kind: 'call', op: c.op, args: c.args, result: r.result, children: [] };
      run = { injection: inj, rc, trace, incident, boundaries: r.boundaries };
    } else {
      // Every pfn memory_failure() is called for (what memoryFailurePfns() finds in a full trace).
      const r = injectOnce(kernel, inj, { trace: where ? 'none' : (opts.trace ?? 'full'), onCall });
      rc = r.panic ? 'PANIC' : (r.result as InjectionRc);
      run = { injection: inj, rc, trace: r.trace, ...(r.summary ? { summary: r.summary } : {}), incident, ...(where ? { inside: where } : {}) };
    }
    const own = kernel.mm.signals.length - signalsBefore - (nestedSignals - nestedBefore);
    nestedSignals = nestedBefore + (where ? kernel.mm.signals.length - signalsBefore : 0);
    setEntry(rcs, inj.id, { rc });
    incident.status = 'complete';
    runs.push({ ...run, sent: own });
    opts.onInjection?.(runs[runs.length - 1] as InjectionRun, kernel);
  };
  const runNested = (p: InsidePlacement, host: string, boundary: number): void => {
    const inj = scenario.injections[p.index];
    if (inj) runOne(inj, { host, boundary });
  };
  scenario.injections.forEach((inj, i) => {
    if (!nested.has(i)) runOne(inj);
  });
  const outcome = collectOutcome(scenario, kernel, mounts, rcs, targeted, runs.map((r) => r.incident));
  const mismatches = compareOutcome(scenario.expect, outcome);
  return { scenario, outcome, mismatches, pass: mismatches.length === 0, setupTraces, injections: runs, kernel };
}
