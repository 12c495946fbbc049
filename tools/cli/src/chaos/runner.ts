/**
 * The runner of `mfsim chaos run`: sets the plan's machine up on the stack, sends its
 * operations (up to `inflight` at a time, barriers where the plan needs them), runs the faults on
 * their schedule, samples the consumer lag, writes the history line by line as things happen,
 * reads the final state and the incidents' records from the services, and runs the checker.
 *
 * An operation whose incident did not finish within the call timeout is `info` (indeterminate,
 * judged "may have happened"); one the services refused is `fail`. Interrupted (Ctrl-C, the
 * `signal`): no new operation is sent, every active fault is healed, the in-flight ones are
 * awaited, and the history still gets its final line.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import { Admin, Kafka } from 'kafkajs';

import { randomUUID } from 'node:crypto';

import type { CallRecord } from '@mfsim/kernel-model';
import { createKafka } from '@mfsim/messaging';
import {
  bootDistributed,
  checkHistory,
  collectOutcome,
  historyLine,
  injectionCall,
  memoryFailurePfns,
  outcomeToJson,
  parseHistory,
  traceFromRecords,
  type CheckResult,
  type Incident,
  type InjectionRc,
  type IncidentRecord,
  type InjectionSpec,
  type RootResult,
} from '@mfsim/scenario';

import type { StackConfig } from '../stack/config';
import type { StackState } from '../stack/state';
import { ClusterError, KafkaCluster, SERVICE_OF, SUBSYSTEMS, type KafkaClusterOptions } from '../distributed/kafka-cluster';
import type { ActiveFault, FaultContext, FaultSpec } from './nemesis/fault';
import type { ProcessControl } from './nemesis/process';
import { faultKind } from './nemesis/registry';
import { buildRun, type Plan } from './plan';

export interface RunTarget extends Pick<KafkaClusterOptions, 'brokers' | 'topicPrefix' | 'serviceUrls'> {
  readonly config: StackConfig;
  state(): StackState;
  /** Process control for the process faults (default: the stack's state.json). */
  readonly processes?: ProcessControl;
  readonly adminToken?: string;
}

export interface RunOptions {
  /** Where the history, the scenario and the report go. */
  readonly outDir: string;
  readonly say: (line: string) => void;
  readonly signal: AbortSignal;
  /** How often to print progress and sample the lag (ms). */
  readonly tickMs?: number;
  /** Called after an operation completed ok (tests break the stack on purpose here). */
  readonly afterOk?: (op: { injection: string; incident: string; run: string; resend: () => Promise<RootResult> }) => Promise<void>;
}

export interface OpTiming {
  readonly injection: string;
  readonly incident: string;
  readonly kind: string;
  readonly invoke: number;
  readonly done: number | null;
  readonly phase: 'ok' | 'fail' | 'info' | null;
}

export interface LagSample {
  readonly time: number;
  readonly group: string;
  readonly lag: number;
}

export interface FaultWindow {
  readonly kind: string;
  readonly target: string;
  readonly start: number;
  readonly effect: number | null;
  readonly seen: string | null;
  readonly end: number | null;
}

export interface RunResult {
  readonly historyFile: string;
  readonly scenarioFile: string;
  readonly check: CheckResult;
  readonly ops: OpTiming[];
  readonly lag: LagSample[];
  readonly faults: FaultWindow[];
  readonly interrupted: boolean;
  readonly wallMs: number;
  readonly setupMs: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, sleep(ms).then(() => Promise.reject(new Error(`${what}: no answer within ${ms} ms`)))]);
}

/** Messages not yet consumed by each service's consumer group (Kafka admin offsets). */
export async function sampleLag(admin: Admin, topicPrefix: string): Promise<{ group: string; lag: number }[]> {
  const out: { group: string; lag: number }[] = [];
  const highs = new Map<string, Map<number, number>>();
  for (const subsys of SUBSYSTEMS) {
    const group = `${topicPrefix}${SERVICE_OF[subsys]}`;
    const committed = await admin.fetchOffsets({ groupId: group });
    let lag = 0;
    for (const t of committed) {
      let h = highs.get(t.topic);
      if (!h) {
        h = new Map((await admin.fetchTopicOffsets(t.topic)).map((p) => [p.partition, Number(p.high)] as const));
        highs.set(t.topic, h);
      }
      for (const p of t.partitions) {
        const off = Number(p.offset);
        if (off < 0) continue; // nothing committed on that partition yet
        lag += Math.max(0, (h.get(p.partition) ?? off) - off);
      }
    }
    out.push({ group, lag });
  }
  return out;
}

/** Signals an incident sent, from its call records' kernel log lines. */
function countSignals(records: Iterable<CallRecord>): number {
  let n = 0;
  for (const rec of records)
    for (const ev of rec.events) {
      if (ev.kind !== 'log') continue;
      const text = (ev as { text: string }).text;
      if (/^→ SIG\w+ /.test(text) || /: SIGBUS BUS_\w+$/.test(text) || text === 'mce: Memory error not recovered') n++;
    }
  return n;
}

export async function runPlan(plan: Plan, target: RunTarget, opts: RunOptions): Promise<RunResult> {
  const t0wall = Date.now();
  const { say, signal } = opts;
  const built = buildRun(plan);
  mkdirSync(opts.outDir, { recursive: true });
  const scenarioFile = path.join(opts.outDir, 'scenario.yaml');
  writeFileSync(scenarioFile, built.scenarioText);
  const historyFile = path.join(opts.outDir, 'history.jsonl');
  writeFileSync(historyFile, '');
  const write = (line: Parameters<typeof historyLine>[0]) => appendFileSync(historyFile, `${historyLine(line)}\n`);

  const byId = new Map(built.scenario.injections.map((i) => [i.id, i] as const));
  const sends = built.steps.filter((s) => s.kind === 'send').length;
  say(`plan ${plan.name}: seed ${plan.seed}, ${sends} operation(s), ${plan.workload.inflight} in flight at most, ${plan.faults.length} fault(s); history ${historyFile}`);

  const cluster = await KafkaCluster.connect({
    brokers: target.brokers,
    topicPrefix: target.topicPrefix,
    serviceUrls: target.serviceUrls,
    // The services refuse state-changing requests without it (POST /runs/…, the set-up calls).
    ...(target.adminToken !== undefined ? { adminToken: target.adminToken } : {}),
    callTimeoutMs: plan.limits.callTimeoutMs,
    resendAfterMs: plan.limits.resendMs,
    dropOnClose: true,
  });
  const kafka: Kafka = createKafka({ clientId: `mfsim-chaos-${randomUUID().slice(0, 8)}`, brokers: [...target.brokers], logger: { log: () => undefined, warn: () => undefined, error: () => undefined } });
  const admin = kafka.admin();
  const ops: OpTiming[] = [];
  const lagSamples: LagSample[] = [];
  const windows: FaultWindow[] = [];
  const active = new Map<string, { fault: ActiveFault; spec: FaultSpec }>();
  const timers: NodeJS.Timeout[] = [];
  let ticker: NodeJS.Timeout | undefined;
  let setupMs = 0;
  try {
    await admin.connect();
    // Set-up: the machine, then its page faults (in parallel only when no page is shared, so their order cannot matter).
    const tSetup = Date.now();
    const shared = 'generate' in plan.topology ? plan.topology.generate.reflinked > 0 : true;
    let lastSay = 0;
    const boot = await bootDistributed(built.scenario, cluster, {
      setupInflight: shared ? 1 : 8,
      onSetup: (done, total) => {
        if (Date.now() - lastSay > 5000) {
          lastSay = Date.now();
          say(`set-up: ${done}/${total} call(s)`);
        }
      },
    });
    setupMs = Date.now() - tSetup;
    say(`set-up done in ${(setupMs / 1000).toFixed(1)} s (run ${cluster.run})`);

    const t0 = Date.now();
    const now = () => Date.now() - t0;
    write({ type: 'run', scenario: path.basename(scenarioFile), seed: plan.seed, startedAt: new Date(t0).toISOString() });

    // Faults on their schedule.
    const ctx: FaultContext & { processes?: ProcessControl } = {
      config: target.config,
      state: () => target.state(),
      ...(target.adminToken !== undefined ? { adminToken: target.adminToken } : {}),
      say: (line) => say(`nemesis: ${line}`),
      signal,
      ...(target.processes ? { processes: target.processes } : {}),
    };
    const faultsDone: Promise<void>[] = [];
    for (const spec of plan.faults) {
      const kind = faultKind(spec.kind)!;
      faultsDone.push(
        new Promise<void>((resolve) => {
          const key = `${spec.kind} ${spec.target}`;
          const ref = { kind: spec.kind, target: spec.target };
          const begin = async () => {
            if (signal.aborted) return resolve();
            const w: { -readonly [K in keyof FaultWindow]: FaultWindow[K] } = { kind: spec.kind, target: spec.target, start: now(), effect: null, seen: null, end: null };
            windows.push(w);
            write({ type: 'fault', phase: 'start', time: w.start, fault: ref });
            let f: ActiveFault;
            try {
              f = await kind.start(spec, ctx);
            } catch (e) {
              say(`nemesis: ${key} could not start: ${(e as Error).message}`);
              w.end = now();
              write({ type: 'fault', phase: 'end', time: w.end, fault: ref });
              return resolve();
            }
            active.set(key, { fault: f, spec });
            f.effect.then(
              (seen) => {
                w.effect = now();
                w.seen = seen;
                write({ type: 'fault', phase: 'effect', time: w.effect, fault: ref, seen });
                say(`nemesis: ${key} took effect: ${seen}`);
              },
              (e: Error) => say(`nemesis: ${key}: ${e.message}`),
            );
            const finish = async () => {
              await f.effect.catch(() => undefined);
              try {
                await f.end();
              } catch (e) {
                say(`nemesis: ${key} did not heal: ${(e as Error).message}`);
              }
              active.delete(key);
              w.end = now();
              write({ type: 'fault', phase: 'end', time: w.end, fault: ref });
              resolve();
            };
            const left = spec.atMs + spec.forMs - now();
            if (signal.aborted) return void finish();
            const timer = setTimeout(() => void finish(), Math.max(0, left));
            timers.push(timer);
            signal.addEventListener('abort', () => {
              clearTimeout(timer);
              void finish();
            }, { once: true });
          };
          timers.push(setTimeout(() => void begin(), spec.atMs));
          signal.addEventListener('abort', () => {
            if (!windows.some((w) => w.kind === spec.kind && w.target === spec.target)) resolve();
          }, { once: true });
        }),
      );
    }

    // Lag samples and progress.
    let sampling = false;
    const tick = async () => {
      if (sampling) return;
      sampling = true;
      try {
        const t = now();
        const lag = await withTimeout(sampleLag(admin, target.topicPrefix), 3000, 'lag');
        for (const l of lag) {
          lagSamples.push({ time: t, ...l });
          write({ type: 'lag', time: t, group: l.group, lag: l.lag });
        }
      } catch {
        // The broker may be the one faulted: no sample this time.
      } finally {
        sampling = false;
      }
      const acked = ops.filter((o) => o.phase === 'ok').length;
      const info = ops.filter((o) => o.phase === 'info' || o.phase === 'fail').length;
      const inflight = ops.filter((o) => o.phase === null).length;
      const lastLag = new Map<string, number>();
      for (const l of lagSamples) lastLag.set(l.group.slice(target.topicPrefix.length), l.lag);
      say(
        `+${(now() / 1000).toFixed(1)}s sent ${ops.length}/${sends} acked ${acked} info/fail ${info} in flight ${inflight}` +
          ` | faults: ${active.size === 0 ? 'none' : [...active.keys()].join(', ')}` +
          ` | lag: ${[...lastLag].map(([g, l]) => `${g} ${l}`).join(', ')}`,
      );
    };
    ticker = setInterval(() => void tick(), opts.tickMs ?? 1000);

    // The operations.
    const inFlight = new Set<Promise<void>>();
    const deadline = t0 + plan.limits.durationMs;
    const sendOne = (inj: InjectionSpec): Promise<void> => {
      const incident = randomUUID();
      const op: { -readonly [K in keyof OpTiming]: OpTiming[K] } = { injection: inj.id, incident, kind: inj.kind, invoke: now(), done: null, phase: null };
      ops.push(op);
      write({ type: 'op', phase: 'invoke', time: op.invoke, injection: inj.id, incident });
      const call = injectionCall(built.scenario, inj);
      // A send that fails (the broker is down) is tried again under the same incident id until the
      // call timeout: the services answer a repeated call from their records, so it cannot run twice.
      const giveUp = Date.now() + plan.limits.callTimeoutMs;
      const attempt = async (): Promise<RootResult> => {
        for (;;) {
          try {
            return await cluster.call(incident, call.op, call.args, call.ctx);
          } catch (e) {
            const timedOut = e instanceof ClusterError && / did not finish within /.test(e.message);
            const refused = e instanceof ClusterError && e.message.startsWith('the services refused');
            if (timedOut || refused || signal.aborted || Date.now() > giveUp) throw e;
            await sleep(1000);
          }
        }
      };
      return attempt().then(
        async (r) => {
          const rc: InjectionRc = r.panic !== undefined ? 'PANIC' : (r.result as InjectionRc);
          op.done = now();
          op.phase = 'ok';
          write({ type: 'op', phase: 'ok', time: op.done, injection: inj.id, incident, rc });
          await opts.afterOk?.({ injection: inj.id, incident, run: cluster.run, resend: () => cluster.call(incident, call.op, call.args, call.ctx) });
        },
        (e: Error) => {
          op.done = now();
          const refused = e instanceof ClusterError && e.message.startsWith('the services refused');
          op.phase = refused ? 'fail' : 'info';
          write({ type: 'op', phase: op.phase, time: op.done, injection: inj.id, incident });
          say(`${inj.id} ${op.phase}: ${e.message}`);
        },
      );
    };
    for (const step of built.steps) {
      if (signal.aborted || Date.now() > deadline) break;
      if (step.kind === 'barrier') {
        await Promise.all(inFlight);
        continue;
      }
      while (inFlight.size >= plan.workload.inflight) await Promise.race(inFlight);
      if (signal.aborted || Date.now() > deadline) break;
      const p: Promise<void> = sendOne(byId.get(step.injection) as InjectionSpec).finally(() => inFlight.delete(p));
      inFlight.add(p);
      if (plan.workload.intervalMs > 0) await sleep(plan.workload.intervalMs);
    }
    if (signal.aborted) say('interrupted: no more operations; healing the faults');
    else if (Date.now() > deadline) say(`duration bound ${plan.limits.durationMs} ms reached: no more operations`);
    await Promise.all(inFlight);
    // Faults not yet started start on schedule (bounded by the duration); all must end.
    const left = deadline - Date.now();
    if (left <= 0 || signal.aborted) for (const t of timers) clearTimeout(t);
    await Promise.race([Promise.all(faultsDone), sleep(Math.max(0, left) + plan.limits.callTimeoutMs)]);
    for (const t of timers) clearTimeout(t);
    await Promise.all([...active.values()].map((a) => a.fault.end().catch(() => undefined)));

    // Let the lag drain (bounded), sampling it.
    const drainUntil = Date.now() + plan.limits.drainMs;
    for (;;) {
      await tick();
      const last = new Map<string, number>();
      for (const l of lagSamples) last.set(l.group, l.lag);
      if (last.size > 0 && [...last.values()].every((v) => v === 0)) break;
      if (Date.now() > drainUntil || signal.aborted) break;
      await sleep(1000);
    }
    clearInterval(ticker);
    ticker = undefined;

    // The final state and the records of every incident.
    say('reading the final state and the incidents\' records');
    const kernel = await cluster.kernel();
    const targeted = new Set<bigint>();
    const records: IncidentRecord[] = [];
    const incidents: Incident[] = [];
    const queue = ops.filter((o) => o.phase !== 'fail');
    let panic: string | null = null;
    const worker = async () => {
      for (let o = queue.shift(); o; o = queue.shift()) {
        const inj = byId.get(o.injection) as InjectionSpec;
        if (inj.kind === 'corruptPfn' || inj.kind === 'mce' || inj.kind === 'background') targeted.add(inj.pfn);
        const recs = await cluster.records(o.incident);
        const trace = traceFromRecords(o.incident, recs);
        if (trace) memoryFailurePfns(trace, targeted);
        const root = recs.get(o.incident);
        if (root?.status === 'panic') panic = root.panic ?? 'panic';
        if (root) records.push({ incident: o.incident, injection: o.injection, signals: countSignals(recs.values()), unmaps: [] });
        incidents.push({ id: o.injection, incident: o.incident, traceId: o.incident.replace(/-/g, ''), status: root?.status === 'done' || root?.status === 'panic' ? 'complete' : 'not-run' });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    kernel.panic = panic;
    const rcs: Record<string, { rc: InjectionRc }> = {};
    const outcome = collectOutcome(built.scenario, kernel, boot.mounts, rcs, targeted, incidents);
    write({ type: 'final', state: outcomeToJson(outcome), records });
  } finally {
    if (ticker) clearInterval(ticker);
    for (const t of timers) clearTimeout(t);
    await Promise.all([...active.values()].map((a) => a.fault.end().catch(() => undefined)));
    await admin.disconnect().catch(() => undefined);
    await cluster.close().catch(() => undefined);
  }

  const text = (await import('node:fs')).readFileSync(historyFile, 'utf8');
  const parsed = parseHistory(text);
  if (!parsed.ok) throw new Error(`the history just written does not parse: line ${parsed.problem.line}: ${parsed.problem.field}: ${parsed.problem.message}`);
  const check = checkHistory(parsed.history, { scenarioText: built.scenarioText, scenarioFile: path.basename(scenarioFile) });
  return { historyFile, scenarioFile, check, ops, lag: lagSamples, faults: windows, interrupted: signal.aborted, wallMs: Date.now() - t0wall, setupMs };
}
