/**
 * `mfsim scenario run|check`: reads scenario files, validates them (exit 2 naming the file,
 * field path and problem), runs them in embedded mode, prints each propagation tree (or one
 * JSON line per scenario with --json) and exits 0 when every expectation holds, 1 when one
 * does not.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { outcomeToJson, parseScenario, renderRun, runScenario, type Scenario, type ScenarioIssue } from '@mfsim/scenario';

const USAGE = `usage:
  mfsim scenario run [--mode embedded|distributed] [--json] [--verbose] FILE|DIR...
  mfsim scenario check FILE|DIR...`;

interface RunOptions {
  mode: 'embedded' | 'distributed';
  json: boolean;
  verbose: boolean;
  files: string[];
}

function parseRunArgs(args: string[]): RunOptions | string {
  const opts: RunOptions = { mode: 'embedded', json: false, verbose: false, files: [] };
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    if (a === '--json') opts.json = true;
    else if (a === '--verbose' || a === '-v') opts.verbose = true;
    else if (a === '--mode' || a.startsWith('--mode=')) {
      const v = a.includes('=') ? a.slice('--mode='.length) : args[++i];
      if (v !== 'embedded' && v !== 'distributed') return `--mode must be embedded or distributed, got ${v ?? 'nothing'}`;
      opts.mode = v;
    } else if (a.startsWith('-')) return `unknown option ${a}`;
    else opts.files.push(a);
  }
  if (opts.files.length === 0) return 'no scenario files given';
  return opts;
}

/** A directory stands for the .yaml/.yml files directly in it, in name order. */
export function expandFiles(args: string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    let isDir = false;
    try {
      isDir = statSync(a).isDirectory();
    } catch {
      isDir = false;
    }
    if (!isDir) {
      out.push(a);
      continue;
    }
    for (const name of readdirSync(a).sort()) if (/\.ya?ml$/.test(name)) out.push(join(a, name));
  }
  return out;
}

type Loaded = { ok: true; scenario: Scenario } | { ok: false; issues: ScenarioIssue[] };

export function loadScenarioFile(file: string): Loaded {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { ok: false, issues: [{ file, path: '', message: `cannot read the file: ${(err as NodeJS.ErrnoException).code ?? String(err)}` }] };
  }
  return parseScenario(text, file);
}

function printIssues(issues: ScenarioIssue[]): void {
  for (const i of issues) process.stderr.write(`${i.file}: ${i.path === '' ? '' : `${i.path}: `}${i.message}\n`);
}

/**
 * Names are meant to be unique in a suite; a repeat is reported as a warning (the files are
 * still run: each stands on its own, and reports name their file too).
 */
function warnDuplicateNames(loaded: Loaded[]): void {
  const seen = new Map<string, string>();
  for (const l of loaded) {
    if (!l.ok) continue;
    const prev = seen.get(l.scenario.name);
    if (prev) process.stderr.write(`${l.scenario.file}: name: warning: "${l.scenario.name}" is also the name of ${prev}; names should be unique in a suite\n`);
    else seen.set(l.scenario.name, l.scenario.file);
  }
}

async function runCommand(args: string[]): Promise<number> {
  const opts = parseRunArgs(args);
  if (typeof opts === 'string') {
    process.stderr.write(`mfsim scenario run: ${opts}\n${USAGE}\n`);
    return 2;
  }
  if (opts.mode === 'distributed') {
    process.stderr.write('mfsim scenario run: --mode distributed needs the services to run the kernel model; that is not built yet. Use the default embedded mode.\n');
    return 2;
  }
  const files = expandFiles(opts.files);
  const loaded = files.map(loadScenarioFile);
  warnDuplicateNames(loaded);
  let invalid = false;
  const color = !opts.json && Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  let passed = 0;
  let failed = 0;
  for (const l of loaded) {
    if (!l.ok) {
      invalid = true;
      printIssues(l.issues);
      continue;
    }
    // Full traces for the human report (set-up ones only with --verbose, which prints them);
    // --json prints no trace, so none is kept.
    const run = runScenario(l.scenario, undefined, { trace: opts.json ? 'none' : 'full', setupTrace: opts.verbose && !opts.json ? 'full' : 'none' });
    if (run.pass) passed++;
    else failed++;
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ name: run.scenario.name, file: run.scenario.file, pass: run.pass, outcome: outcomeToJson(run.outcome), mismatches: run.mismatches })}\n`,
      );
    } else {
      process.stdout.write(`${renderRun(run, { color, verbose: opts.verbose })}\n\n`);
    }
  }
  if (!opts.json) {
    const bad = loaded.filter((l) => !l.ok).length;
    process.stdout.write(`${passed} passed, ${failed} failed${bad > 0 ? `, ${bad} invalid` : ''}\n`);
  }
  if (invalid) return 2;
  return failed > 0 ? 1 : 0;
}

function checkCommand(args: string[]): number {
  const files = expandFiles(args.filter((a) => !a.startsWith('-')));
  if (files.length === 0) {
    process.stderr.write(`mfsim scenario check: no scenario files given\n${USAGE}\n`);
    return 2;
  }
  const loaded = files.map(loadScenarioFile);
  warnDuplicateNames(loaded);
  const issues = loaded.flatMap((l) => (l.ok ? [] : l.issues));
  printIssues(issues);
  for (const l of loaded) if (l.ok) process.stdout.write(`ok ${l.scenario.file} (${l.scenario.name})\n`);
  return issues.length > 0 ? 2 : 0;
}

export async function runScenarioCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'run') return runCommand(rest);
  if (sub === 'check') return checkCommand(rest);
  process.stderr.write(`${USAGE}\n`);
  return 2;
}
