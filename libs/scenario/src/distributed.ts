/**
 * The distributed runner: the same scenario run as `runScenario`, but every subsystem lives in
 * a host of its own (a service) reached through a `Cluster`. The runner gives each host its
 * part of the machine, sends the set-up calls and the injections as root calls, waits for each
 * to finish, reads the five states back and computes the outcome with the same code as the
 * embedded runner, so the two modes can only differ where the hosts do.
 */
import {
  type CallRecord,
  type Kernel,
  type OpName,
  type TaskCtx,
  type TraceCall,
  type TraceNode,
} from '@mfsim/kernel-model';
import { compareOutcome } from './compare';
import { collectOutcome, outcomeToJson, setEntry, type Incident, type InjectionRc } from './outcome';
import { renderTrace } from './render';
import { memoryFailurePfns, randomRunIds, type InjectionRun, type RunIds, type ScenarioRun } from './run-scenario';
import type { InjectionSpec, Scenario } from './scenario.types';
import { planBoot, type BootPlan, type MountOutcome } from './topology';
import { incidentTraceId } from './trace-id';

/** A scenario the distributed mode cannot run (said on one line, not a failure of the stack). */
export class DistributedRunError extends Error {
  override readonly name = 'DistributedRunError';
}

/** What a root call came back with. */
export interface RootResult {
  readonly result?: unknown;
  readonly panic?: string;
  /** The hosts refused the call (an unknown device or run): not a kernel outcome. */
  readonly error?: string;
}

/** Five hosts, however they are reached. */
export interface Cluster {
  /** Gives each host its part of the machine (a fresh namespace for this run). */
  setup(plan: BootPlan): Promise<void>;
  /** Sends a root call (an injection or a set-up call) and waits until its whole chain has finished. */
  call(id: string, op: OpName, args: unknown, ctx: TaskCtx): Promise<RootResult>;
  /** The five subsystems' current state, read back from the hosts. */
  kernel(): Promise<Kernel>;
  /** The recorded calls of a root call's tree, from every host. */
  records(rootId: string): Promise<Map<string, CallRecord>>;
}

import { injectionCall } from './injection-call';
export { injectionCall };

/**
 * Rebuilds the trace tree of a root call from the records the hosts kept: each record's log
 * lines and calls in order, each call's own record (on whichever host served it) below it.
 */
export function traceFromRecords(rootId: string, records: ReadonlyMap<string, CallRecord>): TraceCall | null {
  const build = (id: string): TraceCall | null => {
    const rec = records.get(id);
    if (!rec) return null;
    const children: TraceNode[] = [];
    for (const ev of rec.events) {
      if (ev.kind === 'log') {
        children.push(ev);
        continue;
      }
      const child = rec.children[ev.index];
      if (!child) continue;
      const node = build(child.id);
      children.push(node ?? { kind: 'call', op: child.op, args: child.args, result: child.done ? child.result : undefined, children: [] });
    }
    return { kind: 'call', op: rec.op, args: rec.args, result: rec.status === 'done' ? rec.result : undefined, children };
  };
  return build(rootId);
}

/**
 * What must be identical between two runs of one scenario in any two modes: the outcome (the
 * incident ids aside) and every call tree, set-up included, as the CLI prints it.
 */
export function comparableRun(run: ScenarioRun): unknown {
  const { incidents, ...outcome } = outcomeToJson(run.outcome) as Record<string, unknown>;
  void incidents;
  const opts = { color: false, verbose: true };
  return {
    outcome,
    setup: run.setupTraces.map((t) => renderTrace(t, opts)),
    injections: run.injections.map((i) => (i.trace ? renderTrace(i.trace, opts) : null)),
  };
}

export interface DistributedRunOptions {
  readonly ids?: RunIds;
  /** Called before each set-up call (progress). */
  readonly onSetup?: (done: number, total: number) => void;
  /**
   * Wraps the sending of each injection (chaos and crash tests use it to break the stack while the
   * incident is in flight); `send` sends the root call and resolves with its result.
   */
  readonly aroundInjection?: (inj: InjectionSpec, send: () => Promise<RootResult>) => Promise<RootResult>;
  /** Called after each injection has finished (live output). */
  readonly onInjection?: (run: InjectionRun) => void;
}

/** A scenario set up on a cluster: the machine given to the hosts and its set-up calls made. */
export interface DistributedBoot {
  readonly mounts: Map<string, MountOutcome>;
  readonly setupTraces: TraceCall[];
}

/**
 * Sets a scenario's machine up on a cluster (the hosts' state, then the set-up calls: mounts,
 * faults of the mappings), without its injections. `runScenarioDistributed` then sends them one
 * at a time; `mfsim chaos run` sends many at once.
 */
export async function bootDistributed(
  scenario: Scenario,
  cluster: Cluster,
  options: Pick<DistributedRunOptions, 'ids' | 'onSetup'> & {
    /** Page faults of the mappings sent this many at a time (only where their order does not matter: no page shared by two mappings). Default 1. */
    readonly setupInflight?: number;
  } = {},
): Promise<DistributedBoot> {
  const ids = options.ids ?? randomRunIds;
  if (scenario.unbindStrategy !== undefined && scenario.unbindStrategy !== 'rmap') {
    // The other walks read the whole rmap in memory, which xfs-fs does not hold (it reads it from PostgreSQL).
    throw new DistributedRunError(`unbindStrategy ${scenario.unbindStrategy} runs in embedded mode only; the services walk the rmap (the upstream strategy)`);
  }
  const plan = planBoot(scenario);
  await cluster.setup(plan);
  const mounts = new Map<string, MountOutcome>();
  const setupTraces: TraceCall[] = [];
  let n = 0;
  /** Page faults sent together (setupInflight > 1), awaited before any other set-up call. */
  const faulting = new Set<Promise<void>>();
  const inflight = Math.max(1, options.setupInflight ?? 1);
  for (const call of plan.setupCalls) {
    options.onSetup?.(n, plan.setupCalls.length);
    if (call.op === 'mm.userFault' && call.fs !== undefined && mounts.get(call.fs)?.mountError) continue;
    const id = ids.incidentId();
    n++;
    if (inflight > 1 && call.op === 'mm.userFault') {
      while (faulting.size >= inflight) await Promise.race(faulting);
      const p: Promise<void> = cluster.call(id, call.op, call.args, call.ctx).then(() => {
        faulting.delete(p);
      });
      faulting.add(p);
      continue;
    }
    await Promise.all(faulting);
    const r = await cluster.call(id, call.op, call.args, call.ctx);
    const trace = traceFromRecords(id, await cluster.records(id));
    if (trace) setupTraces.push(trace);
    if (call.op === 'xfs.xfsMount' && call.fs !== undefined) {
      mounts.set(call.fs, { mountError: (r.result as { mountError: MountOutcome['mountError'] } | undefined)?.mountError ?? null });
    }
  }
  await Promise.all(faulting);
  return { mounts, setupTraces };
}

/** Runs a scenario through a cluster and compares its outcome with `expect`, as `runScenario` does. */
export async function runScenarioDistributed(scenario: Scenario, cluster: Cluster, options: DistributedRunOptions = {}): Promise<ScenarioRun> {
  const ids = options.ids ?? randomRunIds;
  const { mounts, setupTraces } = await bootDistributed(scenario, cluster, options);

  const runs: InjectionRun[] = [];
  const rcs: Record<string, { rc: InjectionRc }> = {};
  const targeted = new Set<bigint>();
  let panic: string | null = null;
  for (const inj of scenario.injections) {
    const incidentId = ids.incidentId();
    // The trace the services record the incident under (the cluster starts it with this id).
    const incident: Incident = { id: inj.id, incident: incidentId, traceId: incidentTraceId(incidentId) ?? ids.traceId(), status: 'not-run' };
    if (panic !== null) {
      setEntry(rcs, inj.id, { rc: null });
      runs.push({ injection: inj, rc: null, trace: null, incident });
      continue;
    }
    if (inj.kind === 'corruptPfn' || inj.kind === 'mce' || inj.kind === 'background') targeted.add(inj.pfn);
    const call = injectionCall(scenario, inj);
    const send = (): Promise<RootResult> => cluster.call(incidentId, call.op, call.args, call.ctx);
    const r = options.aroundInjection ? await options.aroundInjection(inj, send) : await send();
    const trace = traceFromRecords(incidentId, await cluster.records(incidentId));
    if (trace) memoryFailurePfns(trace, targeted);
    if (r.panic !== undefined) panic = r.panic;
    const rc: InjectionRc = r.panic !== undefined ? 'PANIC' : (r.result as InjectionRc);
    setEntry(rcs, inj.id, { rc });
    incident.status = 'complete';
    const run: InjectionRun = { injection: inj, rc, trace, incident };
    runs.push(run);
    options.onInjection?.(run);
  }
  const kernel = await cluster.kernel();
  kernel.panic = panic;
  const outcome = collectOutcome(scenario, kernel, mounts, rcs, targeted, runs.map((r) => r.incident));
  const mismatches = compareOutcome(scenario.expect, outcome);
  return { scenario, outcome, mismatches, pass: mismatches.length === 0, setupTraces, injections: runs, kernel };
}
