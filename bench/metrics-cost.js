#!/usr/bin/env node
/**
 * What the services' metrics cost, measured in one process without Kafka, PostgreSQL or Redis
 * (on a loaded machine the end-to-end figures of distributed-bench.js move by more than this):
 *
 *   1. the instruments a hop step touches (libs/service-kit ServiceMetrics): messages consumed,
 *      a hop step (counter + two histograms), the kernel effects, per step;
 *   2. the snapshot/diff of a real mm step (mf_dax_kill_procs: one SIGBUS, one unmap) through
 *      handleIncoming, with and without the snapshot/diff, as HopHost runs it;
 *   3. one scrape (GET /metrics body) after realistic traffic.
 *
 *   node bench/metrics-cost.js [--steps N]      (uses the last build: npm run build)
 *
 * One distributed injection is 12 messages and 11 steps (distributed-bench.js); the report
 * multiplies the per-step cost by that.
 */
'use strict';
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const root = path.join(__dirname, '..');
const { ServiceMetrics, snapshotStep, stepEffects } = require(path.join(root, 'libs/service-kit/dist'));
const km = require(path.join(root, 'libs/kernel-model/dist'));
const kit = require(path.join(root, 'libs/kernel-model/dist/test-kit'));

const argv = process.argv.slice(2);
if (argv.includes('--help')) {
  console.log('node bench/metrics-cost.js [--steps N]   (default 200000)');
  process.exit(0);
}
const stepsArg = argv.indexOf('--steps');
const STEPS = stepsArg >= 0 ? Number(argv[stepsArg + 1]) : 200_000;
if (!Number.isSafeInteger(STEPS) || STEPS < 1000) {
  console.error('metrics-cost: --steps must be an integer ≥ 1000');
  process.exit(2);
}

const FNS = ['memory_failure', 'pmem_pagemap_memory_failure', 'dax_holder_notify_failure', 'xfs_dax_notify_failure', 'mf_dax_kill_procs', 'madvise_inject_error'];
const EFFECTS = { signals: [{ signo: 'SIGBUS', code: 'BUS_MCEERR_AR' }], shutdowns: [], unmaps: [1] };
const NONE = { signals: [], shutdowns: [], unmaps: [] };

function perStep(label, n, fn) {
  for (let i = 0; i < Math.min(n, 20_000); i++) fn(i); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  const ns = ((performance.now() - t0) * 1e6) / n;
  console.log(`${label.padEnd(58)} ${ns.toFixed(0).padStart(7)} ns/step   ${((ns * 11) / 1000).toFixed(2).padStart(6)} µs/injection (11 steps)`);
  return ns;
}

async function main() {
  console.log(`metrics cost: node ${process.version}, load ${require('node:os').loadavg().map((l) => l.toFixed(2)).join(' ')}, ${STEPS} steps`);
  // 1. instruments
  const on = new ServiceMetrics({ service: 'mm-process', group: 'mm-process' });
  const off = new ServiceMetrics({ service: 'mm-process', group: 'mm-process', enabled: false });
  for (const [label, m] of [
    ['instruments per step, metrics on', on],
    ['instruments per step, MFSIM_METRICS=off', off],
  ]) {
    perStep(label, STEPS, (i) => {
      const fn = FNS[i % FNS.length];
      m.messaging.consumed('mm.call.v1', 'handled');
      m.hopStep(fn, 'mm.mfDaxKillProcs', i & 1 ? 'call' : 'reply', 0.012, 0.004);
      m.effects(i % 11 === 0 ? EFFECTS : NONE);
    });
  }

  // 2. a real mm step, with and without the snapshot/diff
  async function mmStep(withDiff) {
    const { k } = kit.givenTestfileMachine();
    kit.givenTask(k, { pid: 201, mmaps: [{ ino: 131n, start: 0x7f2000000000n, pages: 1n, faulted: [0n] }] });
    const records = new Map();
    const host = km.subsystemHost('mm', k.mm, records, (op, args) => km.answerRead(k, { op, args }));
    const incoming = { kind: 'call', id: 'i1.0', op: 'mm.mfDaxKillProcs', args: { mapping: km.mappingId('xfs0', 131n), pgoff: 0n, pgcnt: 1n, mfFlags: km.MF.MF_ACTION_REQUIRED }, ctx: { current: 201 }, chain: 'c', from: 'xfs' };
    const t0 = performance.now();
    const before = withDiff ? snapshotStep('mm', k.mm, records) : undefined;
    const r = await km.handleIncoming(host, incoming);
    const e = before ? stepEffects('mm', before, k.mm, records, r.touched) : undefined;
    const ms = performance.now() - t0;
    if (withDiff && e.signals.length !== 1) throw new Error('expected one signal');
    return ms;
  }
  const N2 = Math.max(2000, Math.floor(STEPS / 50));
  for (const withDiff of [false, true, false, true]) {
    let total = 0;
    for (let i = 0; i < N2; i++) total += await mmStep(withDiff);
    console.log(`${`mf_dax_kill_procs step (model only) ${withDiff ? 'with' : 'without'} snapshot/diff`.padEnd(58)} ${((total * 1e6) / N2).toFixed(0).padStart(7)} ns/step   (${N2} steps, set-up excluded)`);
  }

  // 3. a scrape after traffic over every kernel function and topic
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < 100; i++) bytes = (await on.scrape()).length;
  console.log(`${'one scrape (GET /metrics body), after the traffic above'.padEnd(58)} ${((performance.now() - t0) / 100).toFixed(2).padStart(7)} ms        ${bytes} bytes`);
  await on.shutdown();
  await off.shutdown();
}

main().catch((err) => {
  console.error(`metrics-cost: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
