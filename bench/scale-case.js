#!/usr/bin/env node
'use strict';
/**
 * One scale case of the benchmark, run in a child process of its own so its memory figures
 * are its own:  node --expose-gc bench/scale-case.js <case> <size> [variant]
 * Prints one JSON line: { case, size, variant, setupMs, failures, perSec, p50us, p99us,
 * maxGcMs, heapMB, ... }. Asserts nothing about speed.
 */
const { performance, PerformanceObserver } = require('node:perf_hooks');
const km = require('../libs/kernel-model/dist');
const kit = require('../libs/kernel-model/dist/test-kit');

const NONE = { trace: 'none' };
const BOOT = { current: null };

function memMB() {
  if (global.gc) {
    global.gc();
    global.gc();
  }
  const m = process.memoryUsage();
  return { heapMB: Math.round((m.heapUsed + m.external) / 1e6), rssMB: Math.round(m.rss / 1e6) };
}

function percentile(sorted, p) {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs fn(i) n times; per-call latency percentiles, rate and the longest GC pause meanwhile. */
async function measure(n, fn) {
  const lat = new Float64Array(n);
  let maxGc = 0;
  let gcs = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcs++;
      if (e.duration > maxGc) maxGc = e.duration;
    }
  });
  obs.observe({ entryTypes: ['gc'] });
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const a = performance.now();
    fn(i);
    lat[i] = performance.now() - a;
  }
  const total = performance.now() - t0;
  // GC entries are delivered after the synchronous loop: give them a tick.
  await new Promise((resolve) => setTimeout(resolve, 20));
  obs.disconnect();
  lat.sort();
  return { n, maxUs: +(lat[n - 1] * 1000).toFixed(0), perSec: Math.round(n / (total / 1000)), p50us: +(percentile(lat, 50) * 1000).toFixed(2), p99us: +(percentile(lat, 99) * 1000).toFixed(2), maxGcMs: +maxGc.toFixed(1), gcs };
}

function rng(seed) {
  const p = new km.Prng(seed);
  return (n) => Math.floor(p.next() * n);
}

/** A pmem0 namespace big enough for `blocks` 4 KiB blocks, and its dax device. */
function machine(blocks) {
  const k = kit.givenKernel({ earlyKill: 0 });
  const size = BigInt(blocks) * 4096n + kit.DATA_OFFSET + (1n << 21n);
  const ns = kit.givenPmem(k, { size });
  return { k, ns };
}

function mountXfs(k, ns, { agBlocks, rmap, inodes }) {
  const device = kit.wholeDisk(ns);
  const dblocks = (device.nrSectors * 512n) / 4096n;
  const mp = {
    name: 'xfs0', type: 'xfs', blockSize: 4096n, agBlocks, agCount: (dblocks + agBlocks - 1n) / agBlocks, dblocks,
    rmapbt: true, reflink: true, daxMode: 'always',
    data: { bdev: device, daxDev: null, daxPartOff: 0n }, log: null, completesMount: true, sbBorn: false, mountError: null,
    daxAlways: false, shutdown: 0, frozenUser: false, frozenKernel: false, inodes, rmap,
  };
  k.xfs.mounts.set('xfs0', mp);
  km.runCall(k, 'xfs.xfsMount', { fs: 'xfs0' }, BOOT, NONE);
  return mp;
}

function fault(k, pid, addr) {
  km.runCall(k, 'mm.userFault', { pid, addr }, { current: pid }, NONE);
}

const VMA_BASE = 0x7f00_0000_0000n;

/**
 * N rmap records: files of 10 two-block extents, one record every 4 blocks, 2^20 records per
 * 2^22-block AG. `long`: one 2^21-block reflinked extent at the start of every AG.
 * 1000 files mapped by an early-kill process, 20 pages each faulted. Then 10^5 single-page
 * failures (corrupt-pfn) on random data blocks, and 10^5 rmap lookups.
 */
function buildRmapMachine(n, { long = false, minAgs = 0, mappedFiles = 1000, filesPerProc = 1000, mceKill = 'early' } = {}) {
  const PER_AG = 1 << 20;
  const agCount = Math.max(minAgs, Math.ceil(n / PER_AG));
  const agBlocks = 1n << 22n;
  const { k, ns } = machine(agCount * 2 ** 22);
  const rmap = [];
  const inodes = new Map();
  for (let ag = 0; ag < agCount; ag++) {
    const first = ag * PER_AG;
    const count = Math.max(0, Math.min(PER_AG, n - first)) + (long && first < n ? 1 : 0);
    const c = { startblock: new Uint32Array(count), blockcount: new Uint32Array(count), owner: new BigUint64Array(count), offset: new BigUint64Array(count), flags: new Uint8Array(count) };
    let j = 0;
    for (let r = first; r < first + count - (long && first < n ? 1 : 0); r++) {
      c.startblock[j] = (r - first) * 4;
      c.blockcount[j] = 2;
      c.owner[j] = BigInt(1000 + Math.floor(r / 10));
      c.offset[j] = BigInt((r % 10) * 2);
      j++;
      if (long && r === first) {
        // Same startblock, a higher owner: next in key order.
        c.startblock[j] = 0;
        c.blockcount[j] = 2 ** 21;
        c.owner[j] = BigInt(1e9 + ag);
        c.offset[j] = 0n;
        j++;
      }
    }
    rmap.push(km.XfsRmapBtree.fromSortedColumns(c));
    if (long && first < n) {
      const ino = BigInt(1e9 + ag);
      inodes.set(ino, { ino, path: `/long${ag}`, kind: 'regular', cache: 'active', daxFlag: false, extents: [{ offset: 0n, block: BigInt(ag) * agBlocks, count: 1n << 21n }] });
    }
  }
  const files = Math.ceil(n / 10);
  for (let f = 0; f < files; f++) {
    const ino = BigInt(1000 + f);
    const m = Math.min(10, n - f * 10);
    const triples = new Float64Array(3 * m);
    for (let e = 0; e < m; e++) {
      const r = f * 10 + e;
      const ag = Math.floor(r / PER_AG);
      triples[3 * e] = e * 2;
      triples[3 * e + 1] = ag * 2 ** 22 + (r - ag * PER_AG) * 4;
      triples[3 * e + 2] = 2;
    }
    inodes.set(ino, { ino, path: `/f${f}`, kind: 'regular', cache: 'active', daxFlag: false, extents: km.XfsIextTree.fromTriples(triples) });
  }
  mountXfs(k, ns, { agBlocks, rmap, inodes });
  const mapped = Math.min(files, mappedFiles);
  for (let p = 0; p * filesPerProc < mapped; p++) {
    const vmas = [];
    for (let f = p * filesPerProc; f < Math.min(mapped, (p + 1) * filesPerProc); f++) {
      const ino = BigInt(1000 + f);
      vmas.push({ start: VMA_BASE + BigInt(f - p * filesPerProc) * (1n << 21n), pages: 20n, pgoff: 0n, mapping: km.mappingId('xfs0', ino), fs: 'xfs0', ino, path: `/f${f}`, shared: true, pmd: false });
    }
    km.mmAddTask(k.mm, { pid: 100 + p, comm: `b${p}`, mceKill, capSysAdmin: true, vmas });
    for (const v of vmas) for (let q = 0n; q < 20n; q++) fault(k, 100 + p, v.start + (q << 12n));
  }
  return { k, ns, rmap, PER_AG, mapped };
}

async function caseRmap(n, variant) {
  const t0 = performance.now();
  const { k, ns, rmap, PER_AG, mapped } = buildRmapMachine(n, { long: variant === 'long' });
  const setupMs = performance.now() - t0;
  const mem = memMB();
  for (const bt of rmap) bt.refcountBtree();
  const firstPfn = km.pmemFirstDataPfn(ns);
  const rand = rng(n);
  const blocks = new Float64Array(100_000);
  for (let i = 0; i < blocks.length; i++) {
    // Half the failures on the mapped files, half anywhere.
    const r = i % 2 === 0 ? rand(Math.min(n, mapped * 10)) : rand(n);
    const ag = Math.floor(r / PER_AG);
    blocks[i] = ag * 2 ** 22 + (r - ag * PER_AG) * 4 + (i & 1);
  }
  const lookups = await measure(100_000, (i) => {
    const b = blocks[i];
    const ag = Math.floor(b / 2 ** 22);
    rmap[ag].queryRange(BigInt(b - ag * 2 ** 22), BigInt(b - ag * 2 ** 22));
  });
  const fails = await measure(100_000, (i) => {
    km.runCall(k, 'mm.hwpoisonInject', { pfn: firstPfn + BigInt(blocks[i]) }, BOOT, NONE);
  });
  const rmapMB = Math.round(rmap.reduce((s, bt) => s + bt.byteLength(), 0) / 1e6);
  return { setupMs: Math.round(setupMs), ...mem, rmapMB, signals: k.mm.signals.length, ...fails, lookupP50us: lookups.p50us, lookupP99us: lookups.p99us, lookupMaxGcMs: lookups.maxGcMs };
}

/** K files sharing one 16-block extent (reflink), K early-kill processes each faulting it. */
async function caseReflink(kSharers) {
  const t0 = performance.now();
  const { k, ns } = machine(1 << 20);
  const files = [];
  for (let i = 0; i < kSharers; i++) files.push({ ino: BigInt(1000 + i), extents: [{ offset: 0n, block: kit.TESTFILE_BLOCK, count: 16n }] });
  kit.givenXfs(k, { device: kit.wholeDisk(ns), agBlocks: 1n << 18n, files });
  for (let i = 0; i < kSharers; i++) {
    const ino = BigInt(1000 + i);
    km.mmAddTask(k.mm, { pid: 100 + i, comm: `r${i}`, mceKill: 'early', capSysAdmin: true, vmas: [{ start: VMA_BASE, pages: 16n, pgoff: 0n, mapping: km.mappingId('xfs0', ino), fs: 'xfs0', ino, path: `/f${i}`, shared: true, pmd: false }] });
    fault(k, 100 + i, VMA_BASE);
  }
  const setupMs = performance.now() - t0;
  const mem = memMB();
  const pfn = km.pmemFirstDataPfn(ns) + kit.TESTFILE_BLOCK;
  const rounds = Math.max(20, Math.min(2000, Math.floor(2e6 / kSharers)));
  const fails = await measure(rounds, (i) => km.runCall(k, 'mm.hwpoisonInject', { pfn: pfn + BigInt(i % 16) }, BOOT, NONE));
  return { setupMs: +setupMs.toFixed(1), ...mem, signals: k.mm.signals.length, ...fails };
}

/**
 * Whole-device unbind with P faulted pages. plain: files of 64 contiguous blocks, 16 files
 * per process; fragmented: one file of P one-block extents (every other block), one process.
 */
async function caseUnbind(pages, variant) {
  const t0 = performance.now();
  const { k, ns } = machine(Math.max(1 << 20, pages * 4));
  const agBlocks = 1n << 22n;
  const recs = [];
  const inodes = new Map();
  const tasks = [];
  if (variant === 'fragmented') {
    const extents = [];
    for (let i = 0; i < pages; i++) {
      const block = 1024n + BigInt(i) * 2n;
      extents.push({ offset: BigInt(i), block, count: 1n });
      recs.push([block, 1000n, BigInt(i)]);
    }
    inodes.set(1000n, { ino: 1000n, path: '/frag', kind: 'regular', cache: 'active', daxFlag: false, extents });
    tasks.push([{ ino: 1000n, pages: BigInt(pages) }]);
  } else {
    const files = Math.ceil(pages / 64);
    let vmas = [];
    for (let f = 0; f < files; f++) {
      const ino = BigInt(1000 + f);
      const block = 1024n + BigInt(f) * 64n;
      inodes.set(ino, { ino, path: `/f${f}`, kind: 'regular', cache: 'active', daxFlag: false, extents: [{ offset: 0n, block, count: 64n }] });
      recs.push([block, ino, 0n, 64n]);
      vmas.push({ ino, pages: 64n });
      if (vmas.length === 16) {
        tasks.push(vmas);
        vmas = [];
      }
    }
    if (vmas.length) tasks.push(vmas);
  }
  const perAg = new Map();
  for (const [block, owner, offset, count = 1n] of recs) {
    const ag = Number(block / agBlocks);
    if (!perAg.has(ag)) perAg.set(ag, []);
    perAg.get(ag).push({ startblock: block % agBlocks, blockcount: count, owner, offset, flags: 0 });
  }
  const dblocks = (kit.wholeDisk(ns).nrSectors * 512n) / 4096n;
  const agCount = Number((dblocks + agBlocks - 1n) / agBlocks);
  const rmap = Array.from({ length: agCount }, (_, ag) => km.XfsRmapBtree.fromRecords(perAg.get(ag) ?? []));
  mountXfs(k, ns, { agBlocks, rmap, inodes });
  tasks.forEach((vmaSpecs, t) => {
    const vmas = vmaSpecs.map((v, i) => ({ start: VMA_BASE + BigInt(i) * (1n << 32n), pages: v.pages, pgoff: 0n, mapping: km.mappingId('xfs0', v.ino), fs: 'xfs0', ino: v.ino, path: '', shared: true, pmd: false }));
    km.mmAddTask(k.mm, { pid: 100 + t, comm: `u${t}`, mceKill: 'default', capSysAdmin: true, vmas });
    for (const v of vmas) for (let p = 0n; p < v.pages; p++) fault(k, 100 + t, v.start + (p << 12n));
  });
  const setupMs = performance.now() - t0;
  const mem = memMB();
  const before = [...k.mm.pageTables.values()].reduce((s, m) => s + m.size, 0);
  const t1 = performance.now();
  const r = km.runCall(k, 'pmem.ndPmemRemove', { disk: 'pmem0' }, { current: 1 }, NONE);
  const unbindMs = performance.now() - t1;
  const after = [...k.mm.pageTables.values()].reduce((s, m) => s + m.size, 0);
  return { setupMs: Math.round(setupMs), ...mem, faulted: before, left: after, rc: r.result, unbindMs: Math.round(unbindMs), shutdown: km.shutdownName(k.xfs.mounts.get('xfs0')) };
}

/**
 * The device-removal debate: a 1 TiB namespace (256 AGs of 16 GiB), N rmap records (10^7 by
 * default: 10^6 files × 10 extents), 50,000 files × 20 pages = 10^6 pages faulted by 50
 * processes; then unbind with the given strategy.
 */
async function caseStrategy(n, strategy) {
  const t0 = performance.now();
  const pages = Number(process.env.BENCH_STRATEGY_PAGES || 1e6);
  const { k, ns } = buildRmapMachine(n, { minAgs: 64, mappedFiles: Math.ceil(pages / 20), filesPerProc: 1000, mceKill: 'default' });
  if (strategy !== 'rmap') k.xfs.unbindStrategy = strategy;
  const setupMs = performance.now() - t0;
  const mem = memMB();
  const before = [...k.mm.pageTables.values()].reduce((s, m) => s + m.size, 0);
  const t1 = performance.now();
  const r = km.runCall(k, 'pmem.ndPmemRemove', { disk: 'pmem0' }, { current: 1 }, NONE);
  const unbindMs = performance.now() - t1;
  const after = [...k.mm.pageTables.values()].reduce((s, m) => s + m.size, 0);
  const bytes = km.pmemCapacity(ns);
  return { setupMs: Math.round(setupMs), ...mem, deviceGiB: Number(bytes >> 30n), faulted: before, left: after, signals: k.mm.signals.length, rc: r.result, unbindMs: Math.round(unbindMs), shutdown: km.shutdownName(k.xfs.mounts.get('xfs0')) };
}

/**
 * A topology of N files (one 4-block extent each) and 100 processes mapping 4 files each,
 * faulted: written out in YAML, or as generate: sections. Parse + validate, then boot.
 */
async function caseTopology(n, form) {
  const { parseScenario, runScenario } = require('../libs/scenario/dist');
  const head = [
    `name: bench-topology-${n}`,
    'pmem:',
    '  - { name: pmem0, physAddr: "0x100000000", size: 64GiB, dataOffset: "0x40200000" }',
    'filesystems:',
    '  - name: xfs0',
    '    device: pmem0',
    '    agBlocks: 262144',
    '    metadata: [{ owner: OWN_FS, block: 0, count: 4 }]',
  ];
  const lines = [...head];
  if (form === 'generate') {
    lines.push(`    generate: { files: ${n}, extents: { count: 1, blocks: 4 }, firstBlock: 1024, firstIno: 1000, seed: 1 }`);
    lines.push('processes:', '  - generate: { count: 100, fs: xfs0, mapsPerProcess: 4, faulted: all, firstPid: 100, seed: 1 }');
  } else {
    lines.push('    files:');
    for (let i = 0; i < n; i++) lines.push(`      - { path: /gen/f${i}, ino: ${1000 + i}, extents: [{ offset: 0, block: ${1024 + 4 * i}, count: 4 }] }`);
    lines.push('processes:');
    for (let p = 0; p < 100; p++) {
      lines.push(`  - pid: ${100 + p}`, `    comm: gen${p}`, '    mmaps:');
      for (let m = 0; m < 4; m++) lines.push(`      - { fs: xfs0, path: /gen/f${(p * 4 + m) % n}, start: "0x${(0x7f0000000000 + m * 0x200000).toString(16)}", pgoff: 0, pages: 4, faulted: all }`);
    }
  }
  lines.push('injections:', '  - id: u', '    unbind: { device: pmem0, pid: 1 }');
  const text = lines.join('\n');
  const t0 = performance.now();
  const parsed = parseScenario(text, '<bench>');
  const parseMs = performance.now() - t0;
  if (!parsed.ok) throw new Error(parsed.issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`).join('\n'));
  const t1 = performance.now();
  const run = runScenario(parsed.scenario, undefined, { trace: 'none' });
  const bootMs = performance.now() - t1;
  return { yamlKB: Math.round(text.length / 1024), parseMs: Math.round(parseMs), bootMs: Math.round(bootMs), ...memMB(), signals: run.outcome.signals.length };
}

const [, , name, sizeArg, variant] = process.argv;
const size = Number(sizeArg);
const cases = { rmap: caseRmap, reflink: caseReflink, unbind: caseUnbind, strategy: caseStrategy, topology: caseTopology };
void cases[name](size, variant).then((out) => {
  process.stdout.write(`${JSON.stringify({ case: name, size, variant: variant ?? null, ...out })}\n`);
});
