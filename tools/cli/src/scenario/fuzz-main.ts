/**
 * `npm run fuzz [-- --seed N --cases N --concurrency N --hang-seconds N --heap-mb N]`: the seeded
 * mutation fuzzer of scenario files (fuzz.ts). Prints how every case ended and exits 1 when one
 * ended with a stack trace, an exit code outside 0/1/2 or a hang; the failing mutants stay in
 * .mfsim/fuzz/seed-N/ to be replayed with `mfsim scenario run`.
 */
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';

import { fuzzScenarios, type FuzzOptions } from './fuzz';

const USAGE = 'usage: npm run fuzz -- [--seed N] [--cases N] [--concurrency N] [--hang-seconds N] [--heap-mb N]';

function parseArgs(args: string[]): FuzzOptions | string {
  const root = resolve(__dirname, '../../../..');
  const opts: FuzzOptions = {
    root,
    seed: 1,
    cases: 200,
    concurrency: availableParallelism(),
    hangMs: 30_000,
    heapMb: 512,
    outDir: join(root, '.mfsim/fuzz'),
    log: (line) => process.stdout.write(`fuzz: ${line}\n`),
  };
  const numbers: Record<string, (n: number) => void> = {
    '--seed': (n) => (opts.seed = n),
    '--cases': (n) => (opts.cases = n),
    '--concurrency': (n) => (opts.concurrency = n),
    '--hang-seconds': (n) => (opts.hangMs = n * 1000),
    '--heap-mb': (n) => (opts.heapMb = n),
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--help' || a === '-h') return USAGE;
    const set = numbers[a];
    const n = Number(args[++i]);
    if (set === undefined || !Number.isSafeInteger(n) || n < 0) return `bad argument ${a} ${args[i] ?? ''}\n${USAGE}`;
    set(n);
  }
  return opts;
}

async function main(): Promise<number> {
  const opts = parseArgs(process.argv.slice(2));
  if (typeof opts === 'string') {
    process.stderr.write(`${opts}\n`);
    return opts === USAGE ? 0 : 2;
  }
  process.stdout.write(`fuzz: seed ${opts.seed}, ${opts.cases} cases, ${opts.concurrency} at a time, hang after ${opts.hangMs / 1000} s, heap ${opts.heapMb} MB\n`);
  const report = await fuzzScenarios(opts);
  const c = report.counts;
  process.stdout.write(
    `fuzz: seed ${report.seed}: ${c.pass} passed, ${c.mismatch} mismatched, ${c.refused} refused (exit 0/1/2); ` +
      `${c['stack-trace']} stack traces, ${c['bad-exit']} other exits, ${c.hang} hangs\n`,
  );
  for (const s of report.slow) process.stdout.write(`fuzz: slow (${(s.ms / 1000).toFixed(1)} s): case ${s.index} (${s.seedFile}: ${s.mutation})\n`);
  for (const f of report.failures) process.stdout.write(`fuzz: FAILED case ${f.index} (${f.seedFile}: ${f.mutation}): ${f.verdict}, exit ${f.code ?? f.signal}\n${f.detail}\n`);
  return report.failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => (process.exitCode = code),
  (err: unknown) => {
    process.stderr.write(`fuzz: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 2;
  },
);
