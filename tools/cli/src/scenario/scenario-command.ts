/**
 * `mfsim scenario run|check`: reads scenario files, validates them (exit 2 naming the file,
 * field path and problem), runs them in embedded mode, prints each propagation tree (or one
 * JSON line per scenario with --json) and exits 0 when every expectation holds, 1 when one
 * does not.
 */
import { readdirSync, readFileSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { scenarioJsonSchemaText } from './scenario-schema';
import { outcomeToJson, parseScenario, renderRun, runScenario, runScenarioDistributed, DistributedRunError, type Scenario, type ScenarioIssue, type ScenarioRun } from '@mfsim/scenario';
import { ClusterError, KafkaCluster } from '../distributed/kafka-cluster';
import { stackTarget } from '../distributed/stack-target';
import { traceLinker, TraceLinkError } from '../distributed/trace-link';

const USAGE = `usage:
  mfsim scenario run [--mode embedded|distributed] [--json] [--verbose] FILE|DIR...
  mfsim scenario check FILE|DIR...
  mfsim scenario schema
  (mfsim scenario run --help, mfsim scenario check --help)`;

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

/** A scenario file larger than this is refused before it is read (the largest shipped is a few KiB). */
export const MAX_SCENARIO_FILE_BYTES = 32 * 1024 * 1024;

/** What a path is, when it is neither a regular file nor a directory. */
function specialKind(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

export interface ExpandedFiles {
  /** The files to read, in order. */
  files: string[];
  /** Arguments refused before anything is read: a DIR without scenario files, a FIFO, … */
  problems: string[];
}

/**
 * A directory stands for the .yaml/.yml files directly in it, in name order; one without any is
 * a problem. Anything that is neither a regular file nor a directory (a FIFO would block the read
 * forever) is refused; a path that cannot be stat'ed is left to the read, which names the error.
 */
export function expandFiles(args: string[]): ExpandedFiles {
  const out: ExpandedFiles = { files: [], problems: [] };
  const refuseSpecial = (path: string, st: Stats): boolean => {
    if (st.isFile() || st.isDirectory()) return false;
    out.problems.push(`${path} is ${specialKind(st)}; a scenario FILE must be a regular file (or give a DIR)`);
    return true;
  };
  for (const a of args) {
    let st: Stats | undefined;
    try {
      st = statSync(a);
    } catch {
      st = undefined;
    }
    if (st === undefined || st.isFile()) {
      out.files.push(a);
      continue;
    }
    if (refuseSpecial(a, st)) continue;
    const names = readdirSync(a)
      .filter((name) => /\.ya?ml$/.test(name))
      .sort();
    if (names.length === 0) out.problems.push(`no scenario files in ${a} (a DIR stands for the .yaml/.yml files directly in it)`);
    for (const name of names) {
      const file = join(a, name);
      let fileSt: Stats | undefined;
      try {
        fileSt = statSync(file);
      } catch {
        fileSt = undefined; // a dangling link: the read names the error
      }
      if (fileSt === undefined || fileSt.isFile()) out.files.push(file);
      else if (!refuseSpecial(file, fileSt)) out.problems.push(`${file} is a directory, not a scenario file`);
    }
  }
  return out;
}

type Loaded = { ok: true; scenario: Scenario } | { ok: false; issues: ScenarioIssue[] };

export function loadScenarioFile(file: string): Loaded {
  let text: string;
  try {
    const size = statSync(file).size;
    if (size > MAX_SCENARIO_FILE_BYTES) {
      return { ok: false, issues: [{ file, path: '', message: `the file has ${size} bytes; scenario files are limited to ${MAX_SCENARIO_FILE_BYTES} bytes` }] };
    }
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
  const { files, problems } = expandFiles(opts.files);
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`mfsim scenario run: ${problem}\n`);
    return 2;
  }
  const loaded = files.map(loadScenarioFile);
  warnDuplicateNames(loaded);
  let invalid = false;
  const color = !opts.json && Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
  let passed = 0;
  let failed = 0;
  let cluster: KafkaCluster | undefined;
  // Distributed runs print each incident's trace link when a trace backend is known.
  let traceLink: ((incidentId: string) => string | undefined) | undefined;
  if (opts.mode === 'distributed') {
    try {
      traceLink = traceLinker();
    } catch (err) {
      if (!(err instanceof TraceLinkError)) throw err;
      process.stderr.write(`mfsim scenario run: ${err.message}\n`);
      return 2;
    }
  }
  try {
  for (const l of loaded) {
    if (!l.ok) {
      invalid = true;
      printIssues(l.issues);
      continue;
    }
    let run: ScenarioRun;
    if (opts.mode === 'distributed') {
      try {
        cluster ??= await KafkaCluster.connect({ ...stackTarget(), dropOnClose: false });
        // Live progress on a terminal: set-up calls go through the services one at a time.
        const tty = Boolean(process.stderr.isTTY);
        run = await runScenarioDistributed(l.scenario, cluster, {
          onSetup: (done, total) => {
            if (tty && (done % 20 === 0 || done === total - 1)) process.stderr.write(`\r\u001b[K${l.scenario.name}: set-up ${done + 1}/${total} through the services`);
          },
          onInjection: (inj) => {
            if (tty) process.stderr.write(`\r\u001b[K${l.scenario.name}: ${inj.injection.id} done (incident ${inj.incident.incident})`);
          },
        });
        if (tty) process.stderr.write('\r\u001b[K');
      } catch (err) {
        if (!(err instanceof ClusterError) && !(err instanceof DistributedRunError)) throw err;
        process.stderr.write(`mfsim scenario run: ${err.message}\n`);
        return 2;
      }
    } else {
      // Full traces for the human report (set-up ones only with --verbose, which prints them);
      // --json prints no trace, so none is kept.
      run = runScenario(l.scenario, undefined, { trace: opts.json ? 'none' : 'full', setupTrace: opts.verbose && !opts.json ? 'full' : 'none' });
    }
    if (run.pass) passed++;
    else failed++;
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ name: run.scenario.name, file: run.scenario.file, pass: run.pass, outcome: outcomeToJson(run.outcome), mismatches: run.mismatches })}\n`,
      );
    } else {
      process.stdout.write(`${renderRun(run, { color, verbose: opts.verbose, ...(traceLink ? { traceLink } : {}) })}\n\n`);
    }
  }
  } finally {
    await cluster?.close();
  }
  if (!opts.json) {
    const bad = loaded.filter((l) => !l.ok).length;
    process.stdout.write(`${passed} passed, ${failed} failed${bad > 0 ? `, ${bad} invalid` : ''}\n`);
  }
  if (invalid) return 2;
  return failed > 0 ? 1 : 0;
}

function checkCommand(args: string[]): number {
  const option = args.find((a) => a.startsWith('-'));
  if (option !== undefined) {
    process.stderr.write(`mfsim scenario check: unknown option ${option}\n${USAGE}\n`);
    return 2;
  }
  if (args.length === 0) {
    process.stderr.write(`mfsim scenario check: no scenario files given\n${USAGE}\n`);
    return 2;
  }
  const { files, problems } = expandFiles(args);
  if (problems.length > 0) {
    for (const problem of problems) process.stderr.write(`mfsim scenario check: ${problem}\n`);
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
  if (sub === 'schema') {
    if (rest.length > 0) {
      process.stderr.write(`mfsim scenario schema: takes no arguments, got ${rest.join(' ')}\n`);
      return 2;
    }
    process.stdout.write(scenarioJsonSchemaText());
    return 0;
  }
  process.stderr.write(`${sub === undefined ? '' : `mfsim scenario: unknown subcommand ${sub}\n`}${USAGE}\n`);
  return 2;
}
