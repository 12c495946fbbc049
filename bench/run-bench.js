#!/usr/bin/env node
'use strict';
/**
 * Benchmarks of the embedded model. Prints figures; asserts nothing about speed.
 *   npm run bench                               (builds first)
 *   node bench/run-bench.js [--only a,b] [--max N]   (uses the last build)
 * Sections: suite (scenario runs/s), unbind-yaml (the pre-remove walk of a YAML machine),
 * then the scale cases, each in a child process of its own (bench/scale-case.js): rmap
 * (10^4…10^7 records, with and without 2^21-block records), reflink (fan-out 10…10^4),
 * unbind (10^4…10^6 faulted pages, plain and fragmented), topology (10^3…10^5 files, YAML and
 * generated) and strategy (the three device-removal walks on a 1 TiB namespace).
 * --max caps the sizes (e.g. --max 100000 for a quick run).
 *   node bench/run-bench.js --distributed [options]   then also runs bench/distributed-bench.js
 *   (the five services over Kafka against the embedded model; options after --distributed go to it)
 */
const { readdirSync, readFileSync, statSync, existsSync } = require('node:fs');
const { spawnSync } = require('node:child_process');
const { join, resolve } = require('node:path');
const { performance } = require('node:perf_hooks');
const { parseScenario, runScenario } = require('../libs/scenario/dist');

const REPO = resolve(__dirname, '..');

function yamlFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'invalid' || name === 'chaos' ? [] : yamlFiles(p);
    return /\.ya?ml$/.test(name) ? [p] : [];
  });
}

function progress(label, done, total) {
  if (!process.stderr.isTTY) return;
  const width = 30;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
  if (done === total) process.stderr.write('\n');
}

function benchSuite(rounds) {
  const files = yamlFiles(join(REPO, 'scenarios'));
  const scenarios = files.map((f) => parseScenario(readFileSync(f, 'utf8'), f)).filter((r) => r.ok).map((r) => r.scenario);
  const injections = scenarios.reduce((n, s) => n + s.injections.length, 0);
  const t0 = performance.now();
  for (let i = 0; i < rounds; i++) {
    for (const s of scenarios) runScenario(s);
    progress('suite', i + 1, rounds);
  }
  const ms = performance.now() - t0;
  const runs = rounds * scenarios.length;
  console.log(`suite: ${scenarios.length} scenarios × ${rounds} rounds = ${runs} runs in ${ms.toFixed(0)} ms`);
  console.log(`  ${(runs / (ms / 1000)).toFixed(0)} scenario runs/s, ${((rounds * injections) / (ms / 1000)).toFixed(0)} injections/s (boot + injections + outcome)`);
}

function bigUnbindScenario(files, procs) {
  const lines = [
    'name: bench-unbind-large',
    'pmem:',
    '  - { name: pmem0, physAddr: "0x100000000", size: 64GiB, dataOffset: "0x40200000" }',
    'filesystems:',
    '  - name: xfs0',
    '    device: pmem0',
    '    agBlocks: 262144',
    '    metadata: [{ owner: OWN_FS, block: 0, count: 4 }]',
    '    files:',
  ];
  for (let f = 0; f < files; f++) {
    const block = 1024 + f * 64; // 16 data blocks per file, spread across AGs
    lines.push(`      - { path: /f${f}, ino: ${1000 + f}, extents: [{ offset: 0, block: ${block}, count: 16 }] }`);
  }
  lines.push('processes:');
  for (let p = 0; p < procs; p++) {
    lines.push(`  - pid: ${100 + p}`, `    comm: w${p}`, '    mmaps:');
    for (let m = 0; m < 4; m++) {
      const f = (p * 4 + m) % files;
      lines.push(`      - { fs: xfs0, path: /f${f}, start: "${'0x' + (0x7f0000000000 + m * 0x100000).toString(16)}", pgoff: 0, pages: 16, faulted: all }`);
    }
  }
  lines.push('injections:', '  - id: i1', '    unbind: { device: pmem0, pid: 1 }');
  return lines.join('\n');
}

function benchUnbind(files, procs) {
  const text = bigUnbindScenario(files, procs);
  const t0 = performance.now();
  const parsed = parseScenario(text, '<bench>');
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  const t1 = performance.now();
  const run = runScenario(parsed.scenario);
  const t2 = performance.now();
  const unbind = run.injections[0];
  console.log(`unbind walk: ${files} files, ${procs} processes × 4 mappings × 16 pages faulted`);
  console.log(
    `  parse + validate ${(t1 - t0).toFixed(0)} ms; boot (mount, ${procs * 64} faults) + whole-device pre-remove + outcome ${(t2 - t1).toFixed(0)} ms; ` +
      `${run.outcome.signals.length} SIGBUS sent, rc ${unbind.rc}, shutdown ${run.outcome.filesystems.xfs0.shutdown}`,
  );
}

const dIndex = process.argv.indexOf('--distributed');
const argv = process.argv.slice(2, dIndex >= 0 ? dIndex : undefined);
const only = argv.includes('--only') ? new Set(argv[argv.indexOf('--only') + 1].split(',')) : null;
const MAX = argv.includes('--max') ? Number(argv[argv.indexOf('--max') + 1]) : Infinity;
const want = (section) => !only || only.has(section);

/** Runs one scale case in a fresh node (its own heap), returns its JSON line or an error. */
function child(args, timeoutMs = 900_000) {
  const r = spawnSync(process.execPath, ['--expose-gc', '--max-old-space-size=6000', join(__dirname, 'scale-case.js'), ...args.map(String)], {
    encoding: 'utf8',
    timeout: timeoutMs,
    maxBuffer: 1 << 26,
  });
  const line = (r.stdout || '').trim().split('\n').pop();
  if (r.status !== 0 || !line) return { error: r.error ? String(r.error.code || r.error) : (r.stderr || '').trim().split('\n').slice(-3).join(' ') };
  return JSON.parse(line);
}

const pad = (x, n) => String(x).padStart(n);
const fmt = (x) => (x === undefined ? "-" : typeof x === "number" ? (Number.isInteger(x) || Math.abs(x) >= 100 ? Math.round(x).toString() : x.toFixed(2)) : String(x));

/** The growth of `field` per ×10 of size between consecutive rows (1.0 = constant, 10 = linear). */
function growth(rows, field, i) {
  if (i === 0 || !rows[i - 1] || rows[i - 1][field] === undefined || rows[i][field] === undefined) return '';
  const ratio = rows[i][field] / rows[i - 1][field];
  const decades = Math.log10(rows[i].size / rows[i - 1].size);
  return `×${(ratio ** (1 / decades)).toFixed(2)}`;
}

function table(title, rows, cols) {
  console.log(`\n${title}`);
  console.log(cols.map(([h, , w]) => pad(h, w)).join(' '));
  rows.forEach((row, i) => {
    if (row.error) return console.log(`${pad(row.size, cols[0][2])} error: ${row.error}`);
    console.log(cols.map(([, f, w]) => pad(typeof f === 'function' ? f(row, i, rows) : fmt(row[f]), w)).join(' '));
  });
}

const sizes = (xs) => xs.filter((x) => x <= MAX);

function benchRmap() {
  for (const variant of ['plain', 'long']) {
    const rows = sizes([1e4, 1e5, 1e6, 1e7]).map((n) => child(['rmap', n, variant]));
    table(`rmap: single-page failures (corrupt-pfn, trace none) and rmap lookups, ${variant === 'long' ? 'one 2^21-block record per AG' : 'no long record'}`, rows, [
      ['records', 'size', 9], ['set-up ms', 'setupMs', 10], ['heap+ext MB', 'heapMB', 12], ['rss MB', 'rssMB', 7],
      ['fail/s', 'perSec', 8], ['p50 µs', 'p50us', 7], ['p99 µs', 'p99us', 7], ['max µs', 'maxUs', 7], ['max GC ms', 'maxGcMs', 10],
      ['growth p50/×10', (r, i, a) => growth(a, 'p50us', i), 15],
      ['lookup p50', 'lookupP50us', 11], ['lookup p99', 'lookupP99us', 11], ['growth lookup p99', (r, i, a) => growth(a, 'lookupP99us', i), 18],
    ]);
  }
}

function benchReflink() {
  const rows = sizes([10, 100, 1000, 10000]).map((n) => child(['reflink', n]));
  table('reflink: K files sharing one 16-block extent, K processes faulting it; failures on the shared block', rows, [
    ['sharers', 'size', 8], ['set-up ms', 'setupMs', 10], ['growth set-up', (r, i, a) => growth(a, 'setupMs', i), 14], ['heap+ext MB', 'heapMB', 12],
    ['fail/s', 'perSec', 8], ['p50 µs', 'p50us', 9], ['p99 µs', 'p99us', 9], ['max GC ms', 'maxGcMs', 10], ['growth p50/×10', (r, i, a) => growth(a, 'p50us', i), 15],
  ]);
}

function benchUnbindScale() {
  for (const variant of ['plain', 'fragmented']) {
    const rows = sizes([1e4, 1e5, 1e6]).map((n) => child(['unbind', n, variant]));
    table(`unbind: whole-device removal with P faulted pages, ${variant === 'plain' ? 'files of 64 contiguous blocks' : 'one file of P one-block extents'} (trace none)`, rows, [
      ['pages', 'size', 8], ['set-up ms', 'setupMs', 10], ['heap+ext MB', 'heapMB', 12], ['unbind ms', 'unbindMs', 10],
      ['growth/×10', (r, i, a) => growth(a, 'unbindMs', i), 11], ['PTEs left', 'left', 10], ['shutdown', 'shutdown', 22],
    ]);
  }
}

function benchTopology() {
  for (const form of ['yaml', 'generate']) {
    const rows = sizes([1e3, 1e4, 1e5]).map((n) => child(['topology', n, form], 300_000));
    table(`topology: ${form === 'yaml' ? 'N files written out in YAML' : 'N files from a generate: section'} — parse + validate, then boot`, rows, [
      ['files', 'size', 7], ['YAML KB', 'yamlKB', 8], ['parse ms', 'parseMs', 9], ['growth/×10', (r, i, a) => growth(a, 'parseMs', i), 11], ['boot ms', 'bootMs', 8], ['heap+ext MB', 'heapMB', 12],
    ]);
  }
}

function benchStrategy() {
  const n = Math.min(1e7, MAX);
  const rows = ['rmap', 'inode-walk', 'pfn-walk'].map((s) => ({ ...child(['strategy', n, s], 1_800_000), strategy: s }));
  table(`device-removal strategies: 1 TiB namespace, ${n} rmap records, ${Math.min(1e6, MAX)} faulted pages (trace none)`, rows, [
    ['strategy', 'strategy', 11], ['set-up ms', 'setupMs', 10], ['unbind ms', 'unbindMs', 10], ['signals', 'signals', 8], ['PTEs left', 'left', 10], ['shutdown', 'shutdown', 22],
  ]);
}

console.log(`node ${process.version}, ${require('node:os').cpus().length} cpu(s), load ${require('node:os').loadavg()[0].toFixed(2)}`);
if (want('suite')) benchSuite(Number(process.env.BENCH_ROUNDS || 20));
if (want('unbind-yaml')) benchUnbind(Number(process.env.BENCH_FILES || 4000), Number(process.env.BENCH_PROCS || 200));
if (process.env.BENCH_STRATEGY_PAGES === undefined && MAX < 1e6) process.env.BENCH_STRATEGY_PAGES = String(MAX);
if (want('rmap')) benchRmap();
if (want('reflink')) benchReflink();
if (want('unbind')) benchUnbindScale();
if (want('topology')) benchTopology();
if (want('strategy')) benchStrategy();

if (dIndex >= 0) {
  console.log('');
  const r = spawnSync(process.execPath, [join(__dirname, 'distributed-bench.js'), ...process.argv.slice(dIndex + 1)], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
}
