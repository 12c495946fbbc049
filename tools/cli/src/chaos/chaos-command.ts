/**
 * `mfsim chaos check HISTORY [--json]`: reads a chaos history (docs/chaos-history.md), checks it
 * against the embedded model and prints every anomaly by name, the recovery time of every fault
 * and a summary. Exit 0 no anomaly, 1 an anomaly, 2 wrong usage or a history that cannot be read
 * or checked (one line naming the line number and field). `mfsim chaos run` is in run-command.ts.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import {
  checkHistory,
  formatHistoryProblem,
  HistoryCheckError,
  isInlineScenario,
  parseHistory,
  type CheckResult,
  type History,
} from '@mfsim/scenario';

import { linearizationText } from './report';

const USAGE = `usage:
  mfsim chaos run PLAN.yaml [--out DIR] [--seed N]
  mfsim chaos check HISTORY [--json]
  (mfsim chaos run --help, mfsim chaos check --help)`;

function fail(message: string): number {
  process.stderr.write(`mfsim chaos check: ${message}\n`);
  return 2;
}

function readProblem(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err.code === 'ENOENT') return 'no such file';
  if (err.code === 'EISDIR') return 'is a directory';
  if (err.code === 'EACCES') return 'permission denied';
  return err.code ?? err.message;
}

/** The scenario text of a run line naming a file: relative to the history's directory, else to the current one. */
function scenarioText(history: History, historyFile: string): { text: string; file: string } | string {
  const name = history.run.scenario;
  const candidates = isAbsolute(name) ? [name] : [resolve(dirname(historyFile), name), resolve(name)];
  let problem = '';
  for (const file of candidates) {
    try {
      return { text: readFileSync(file, 'utf8'), file: name };
    } catch (e) {
      problem ||= readProblem(e);
    }
  }
  return `cannot read the scenario ${name}: ${problem}`;
}

function formatMs(ms: number | null): string {
  return ms === null ? 'never' : `${ms} ms`;
}

export function renderCheck(file: string, result: CheckResult): string {
  const lines: string[] = [];
  for (const a of result.anomalies) {
    const where = a.injection !== undefined ? ` [${a.injection}${a.incident !== undefined ? ` ${a.incident}` : ''}]` : '';
    lines.push(`✗ ${a.name}${where}: ${a.detail}`);
  }
  for (const r of result.recovery) {
    const what = `fault ${r.fault.kind} ${r.fault.target} (${r.start}–${r.end === null ? '?' : r.end} ms)`;
    lines.push(r.end === null ? `  ${what}: never ended` : `  ${what}: recovered ${r.ms === null ? 'never' : `after ${formatMs(r.ms)}`}`);
  }
  const s = result.stats;
  if (s.linearization.around.length > 0) lines.push(`  ${linearizationText(s.linearization)}`);
  const ops = `${s.invoked} operation(s): ${s.ok} ok, ${s.fail} fail, ${s.info} info, ${s.unfinished} unfinished; ${s.faults} fault(s); ${s.modelRuns} model run(s)`;
  if (result.ok) lines.push(`PASS ${file}: no anomaly; ${ops}`);
  else {
    const names = [...new Set(result.anomalies.map((a) => a.name))].join(', ');
    lines.push(`FAIL ${file}: ${result.anomalies.length} anomal${result.anomalies.length === 1 ? 'y' : 'ies'} (${names}); ${ops}`);
  }
  return lines.join('\n');
}

function runCheck(args: string[]): number {
  let json = false;
  const files: string[] = [];
  for (const a of args) {
    if (a === '--json') json = true;
    else if (a.startsWith('-')) return fail(`unknown option ${a}\n${USAGE}`);
    else files.push(a);
  }
  if (files.length !== 1) return fail(`${files.length === 0 ? 'no history file given' : 'one history file at a time'}\n${USAGE}`);
  const file = files[0] as string;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    return fail(`${file}: cannot read: ${readProblem(e)}`);
  }
  const parsed = parseHistory(text);
  if (!parsed.ok) return fail(`${file}: ${formatHistoryProblem(parsed.problem)}`);
  const history = parsed.history;
  let scenario: { text: string; file: string } | undefined;
  if (!isInlineScenario(history.run.scenario)) {
    const s = scenarioText(history, file);
    if (typeof s === 'string') return fail(`${file}: ${formatHistoryProblem({ line: history.run.line, field: 'scenario', message: s })}`);
    scenario = s;
  }
  let result: CheckResult;
  try {
    result = checkHistory(history, scenario ? { scenarioText: scenario.text, scenarioFile: scenario.file } : {});
  } catch (e) {
    if (e instanceof HistoryCheckError) return fail(`${file}: ${formatHistoryProblem({ line: e.line, field: e.field, message: e.message })}`);
    throw e;
  }
  process.stdout.write(json ? `${JSON.stringify({ file, ...result })}\n` : `${renderCheck(file, result)}\n`);
  return result.ok ? 0 : 1;
}

export async function runChaosCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'check':
      return Promise.resolve(runCheck(rest));
    case 'run': {
      // Loaded only for `run`: it pulls in kafkajs and the stack.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const run = require('./run-command') as typeof import('./run-command');
      return run.runChaosRun(rest);
    }
    default:
      process.stderr.write(`${sub === undefined ? '' : `mfsim chaos: unknown subcommand ${sub}\n`}${USAGE}\n`);
      return 2;
  }
}
