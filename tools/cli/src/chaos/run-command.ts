/**
 * `mfsim chaos run PLAN.yaml [--out DIR] [--seed N]`: runs a plan against the stack of
 * `mfsim stack up`, writes the history, the scenario and the report into DIR (default
 * .mfsim/chaos/<plan>-<time>/), runs the checker and exits 0 (no anomaly), 1 (an anomaly) or 2
 * (a bad plan, no stack: one line). Ctrl-C stops sending, heals the faults and still checks.
 */
import * as path from 'node:path';

import { loadStackConfig, StackError } from '../stack/config';
import { readState } from '../stack/state';
import { ClusterError } from '../distributed/kafka-cluster';
import { stackTarget } from '../distributed/stack-target';
import { renderCheck } from './chaos-command';
import { PlanError } from './nemesis/fault';
import { stackProcesses } from './nemesis/process';
import { faultKind, FAULT_KINDS } from './nemesis/registry';
import { readPlan, type Plan } from './plan';
import { runPlan } from './runner';
import { writeReport } from './report';

export const RUN_USAGE = `usage: mfsim chaos run PLAN.yaml [--out DIR] [--seed N]

Runs a chaos plan against the stack of \`mfsim stack up\`: sets its machine up, sends its
injections (several in flight), injects its faults on schedule, samples the consumer lag, writes
the history (DIR/history.jsonl, as it happens), then checks it against the embedded model and
writes DIR/report.md, report.json and report.svg. Exit 0 no anomaly, 1 an anomaly, 2 a bad plan
or no stack. Ctrl-C: no new injection, the faults are healed, the run is still checked.

  --out DIR   where the history and the report go (default .mfsim/chaos/<plan>-<time>)
  --seed N    override the plan's seed

Fault kinds:
${FAULT_KINDS.map((k) => `  ${k.kind.padEnd(12)} ${k.summary}`).join('\n')}

Named plans: scenarios/chaos/plans/ (README there).`;

/** `FILE: field: problem`, or `FILE: problem` for the file as a whole. */
function planProblem(file: string, e: PlanError): string {
  return `${file}: ${e.field === '' ? e.message.replace(/^: /, '') : e.message}`;
}

function fail(message: string): number {
  process.stderr.write(`mfsim chaos run: ${message}\n`);
  return 2;
}

export async function runChaosRun(args: string[]): Promise<number> {
  let out: string | undefined;
  let seed: number | undefined;
  const files: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--help' || a === '-h') {
      process.stdout.write(`${RUN_USAGE}\n`);
      return 0;
    } else if (a === '--out') {
      out = args[++i];
      if (!out) return fail('--out needs a directory');
    } else if (a === '--seed') {
      const v = Number(args[++i]);
      if (!Number.isInteger(v) || v < 0) return fail(`--seed needs an integer >= 0, got ${args[i] ?? 'nothing'}`);
      seed = v;
    } else if (a.startsWith('-')) return fail(`unknown option ${a}\n${RUN_USAGE}`);
    else files.push(a);
  }
  if (files.length !== 1) return fail(`${files.length === 0 ? 'no plan given' : 'one plan at a time'}\n${RUN_USAGE}`);
  const planFile = files[0] as string;
  let plan: Plan;
  try {
    plan = readPlan(planFile);
  } catch (e) {
    if (e instanceof PlanError) return fail(planProblem(planFile, e));
    throw e;
  }
  if (seed !== undefined) plan = { ...plan, seed };

  let config;
  try {
    config = loadStackConfig();
  } catch (e) {
    if (e instanceof StackError) return fail(e.message);
    throw e;
  }
  const state = readState(config);
  if (!state || Object.keys(state.services).length === 0) return fail(`no stack to run against (no ${path.relative(process.cwd(), config.stateFile)} with services): start one with npx mfsim stack up`);
  const current = () => readState(config) ?? state;
  // Every fault's target must exist before anything starts.
  const control = stackProcesses(config, current);
  for (const [i, f] of plan.faults.entries()) {
    const refusal = faultKind(f.kind)?.preflight?.(f, current());
    if (refusal) return fail(`${planFile}: faults[${i}].target: ${f.target}: ${refusal}`);
    if (f.kind !== 'kill' && f.kind !== 'pause') continue;
    const why = control.refusal?.(f.target);
    if (why) return fail(`${planFile}: faults[${i}].target: ${f.target}: ${why}`);
    if (!control.find(f.target)) return fail(`${planFile}: faults[${i}].target: ${f.target} is not a process of the stack (known: ${control.targets().join(', ')})`);
  }

  const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
  const outDir = path.resolve(out ?? path.join(config.root, '.mfsim', 'chaos', `${plan.name}-${stamp}`));
  const t0 = Date.now();
  const say = (line: string) => process.stdout.write(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
  const abort = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    interrupts++;
    if (interrupts === 1) {
      say('interrupted: healing the faults and finishing (Ctrl-C again to leave at once, faults may stay in force)');
      abort.abort();
    } else process.exit(130);
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const target = { ...stackTarget(), config, state: current };
    const result = await runPlan(plan, target, { outDir, say, signal: abort.signal });
    const command = `npx mfsim chaos run ${path.relative(config.root, path.resolve(planFile))}${seed !== undefined ? ` --seed ${seed}` : ''}`;
    const rep = writeReport({
      plan: plan.name,
      planFile,
      seed: plan.seed,
      command,
      historyFile: result.historyFile,
      check: result.check,
      ops: result.ops,
      lag: result.lag,
      faults: result.faults,
      wallMs: result.wallMs,
      setupMs: result.setupMs,
      interrupted: result.interrupted,
    });
    process.stdout.write(`${renderCheck(result.historyFile, result.check)}\n`);
    const l = rep.report.latencyMs;
    process.stdout.write(
      `latency ms p50/p99: all ${l.all.p50}/${l.all.p99}, during faults ${l.duringFaults.p50}/${l.duringFaults.p99}, outside ${l.outsideFaults.p50}/${l.outsideFaults.p99}\n` +
        `report: ${rep.md} (${path.basename(rep.json)}, ${path.basename(rep.svg)})\n`,
    );
    return result.check.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof PlanError) return fail(planProblem(planFile, e));
    if (e instanceof ClusterError || e instanceof StackError) return fail(e.message);
    throw e;
  } finally {
    process.removeListener('SIGINT', onSigint);
    process.removeListener('SIGTERM', onSigint);
  }
}
