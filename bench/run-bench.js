#!/usr/bin/env node
'use strict';
/**
 * Benchmarks of the embedded model. Prints figures; asserts nothing about speed.
 *   npm run bench            (builds first)
 *   node bench/run-bench.js  (uses the last build)
 * Figures: scenario runs per second over the whole suite, and the pre-remove (unbind) walk
 * over a large synthetic filesystem, which is the longest call chain the model has.
 *   node bench/run-bench.js --distributed [options]   then also runs bench/distributed-bench.js
 *   (the five services over Kafka against the embedded model; options after --distributed go to it)
 */
const { readdirSync, readFileSync, statSync, existsSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { performance } = require('node:perf_hooks');
const { parseScenario, runScenario } = require('../libs/scenario/dist');

const REPO = resolve(__dirname, '..');

function yamlFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).sort().flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return name === 'invalid' ? [] : yamlFiles(p);
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

console.log(`node ${process.version}, ${require('node:os').cpus().length} cpu(s)`);
benchSuite(Number(process.env.BENCH_ROUNDS || 20));
benchUnbind(Number(process.env.BENCH_FILES || 4000), Number(process.env.BENCH_PROCS || 200));

const distributed = process.argv.indexOf('--distributed');
if (distributed >= 0) {
  console.log('');
  const { spawnSync } = require('node:child_process');
  const r = spawnSync(process.execPath, [join(__dirname, 'distributed-bench.js'), ...process.argv.slice(distributed + 1)], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
}
