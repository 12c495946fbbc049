#!/usr/bin/env node
'use strict';
/**
 * Benchmark of the distributed mode against the embedded model (issue 6 item 8).
 *
 *   npm run bench:distributed                       (builds first; needs a Kafka broker, below)
 *   node bench/distributed-bench.js [options]       (uses the last build)
 *
 * Kafka: MFSIM_TEST_KAFKA_BROKERS, e.g. from
 *   node tools/test-runner/test-broker.js hold --env-out /tmp/bench-kafka.env & source /tmp/bench-kafka.env
 * PostgreSQL and Redis as the integration tests use them (MFSIM_TEST_DATABASE_URL, MFSIM_TEST_REDIS_URL).
 *
 * Options:
 *   --injections N     pages of the file and injections per phase (default 2000)
 *   --inflight M       injections in flight at once in the throughput phase (default 32)
 *   --warmup W         injections of a throw-away run before measuring (default 50)
 *   --phase-seconds S  stop issuing injections in a phase after S s (default 60); the check
 *                      then covers the injections that ran
 *   --setup-calls      boot through the services (mount + N page faults as root calls over
 *                      Kafka, timed) instead of handing them the embedded boot's state
 *                      (for the sequential run; the in-flight run is always handed the state)
 *   --stack            use the running `mfsim stack up` (tools/cli stackTarget()) instead of a
 *                      TestStack of its own
 *   --no-probes        skip the Kafka / PostgreSQL / Redis / codec round-trip probes
 *   --traces KIND      off (default): the TestStack's services do not trace; zipkin: start a
 *                      Zipkin server (deploy/zipkin jar) on a free port and have the services
 *                      export every span to it (OTEL_TRACES_EXPORTER=zipkin), to measure what
 *                      tracing costs; its CPU is reported with the other processes
 *   --cpu-prof DIR     start the TestStack's services with NODE_OPTIONS=--cpu-prof into DIR
 *                      (profiles written when stack.stop() ends them; open in Chrome DevTools)
 *
 * The scenario: one pmem namespace, XFS with rmapbt, one file of N pages mapped and fully
 * faulted by one process (mceKill: early). Every injection is madvise(MADV_HWPOISON) of one
 * distinct page by that process, a whole failure chain mm -> pmem -> dax -> xfs -> mm
 * (mf_dax_kill_procs) -> back that sends exactly one SIGBUS (BUS_MCEERR_AR to the injector).
 *
 * Prints figures with the targets beside them; the targets are not assertions. Exits 1 only if
 * the correctness check fails (signals of the distributed runs != the embedded ones) or the
 * stack cannot start.
 */
const { randomUUID } = require('node:crypto');
const { readFileSync, readdirSync, readlinkSync } = require('node:fs');
const os = require('node:os');
const { performance } = require('node:perf_hooks');

const { parseScenario, bootScenario, planBoot, injectionCall } = require('../libs/scenario/dist');
const { runCall, ownerOf, encodeState, decodeState } = require('../libs/kernel-model/dist');

const TARGETS = { p50: 10, p99: 50, rate: 500 };

// kafkajs sets negative timeouts now and then; Node's warning about it is noise here.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'TimeoutNegativeWarning') process.stderr.write(`${w.name}: ${w.message}\n`);
});

// ---------------------------------------------------------------- options

function parseArgs(argv) {
  const o = { injections: 2000, inflight: 32, warmup: 50, phaseSeconds: 60, setupCalls: false, stack: false, probes: true, cpuProf: null, traces: 'off' };
  const num = (i, name) => {
    const v = Number(argv[i + 1]);
    if (!Number.isInteger(v) || v < 0) usage(`${name} takes a whole number`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--injections') o.injections = num(i++, a);
    else if (a === '--inflight') o.inflight = Math.max(1, num(i++, a));
    else if (a === '--warmup') o.warmup = num(i++, a);
    else if (a === '--phase-seconds') o.phaseSeconds = Math.max(1, num(i++, a));
    else if (a === '--setup-calls') o.setupCalls = true;
    else if (a === '--stack') o.stack = true;
    else if (a === '--no-probes') o.probes = false;
    else if (a === '--traces') {
      o.traces = argv[++i];
      if (o.traces !== 'off' && o.traces !== 'zipkin') usage(`--traces takes off or zipkin, got ${o.traces ?? 'nothing'}`);
    }
    else if (a === '--cpu-prof') o.cpuProf = require('node:path').resolve(argv[++i] ?? usage('--cpu-prof takes a directory'));
    else if (a === '--help' || a === '-h') usage(null);
    else usage(`unknown option ${a}`);
  }
  if (o.injections < 1) usage('--injections must be at least 1');
  if (o.traces !== 'off' && o.stack) usage('--traces is for the TestStack; with --stack the running stack decides (mfsim stack up traces to Zipkin unless --no-traces)');
  return o;
}

function usage(problem) {
  const lines = readFileSync(__filename, 'utf8').split('\n');
  const text = lines.slice(3, lines.indexOf(' */')).map((l) => l.replace(/^ \* ?/, '')).join('\n');
  if (problem) {
    process.stderr.write(`distributed-bench: ${problem}\n`);
    process.exit(2);
  }
  process.stdout.write(`${text}\n`);
  process.exit(0);
}

// ---------------------------------------------------------------- scenario

const PID = 100;
const START = 0x7f0000000000n;
const PAGE = 4096n;

function scenarioText(pages) {
  return [
    'name: bench-distributed-madvise',
    'pmem:',
    '  - { name: pmem0, physAddr: "0x100000000", size: 16GiB, dataOffset: "0x10200000" }',
    'filesystems:',
    '  - name: xfs0',
    '    device: pmem0',
    '    blockSize: 4096',
    '    agBlocks: 262144',
    '    rmapbt: true',
    '    metadata: [{ owner: OWN_FS, block: 0, count: 4 }]',
    '    files:',
    `      - { path: /bench, ino: 131, extents: [{ offset: 0, block: 78416, count: ${pages} }] }`,
    'processes:',
    `  - pid: ${PID}`,
    '    comm: BENCH',
    '    mceKill: early',
    '    mmaps:',
    `      - { fs: xfs0, path: /bench, start: "0x${START.toString(16)}", pgoff: 0, pages: ${pages}, faulted: all }`,
    'injections:',
    '  - id: i0',
    `    madvise: { pid: ${PID}, addr: "0x${START.toString(16)}", pages: 1 }`,
    '',
  ].join('\n');
}

function buildScenario(pages) {
  const parsed = parseScenario(scenarioText(pages), '<distributed-bench>');
  if (!parsed.ok) throw new Error(parsed.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return parsed.scenario;
}

/** The root call of the madvise injection of page `page` (as the scenario runner makes it). */
function injectionOf(scenario, page) {
  const spec = { ...scenario.injections[0], id: `i${page}`, addr: START + BigInt(page) * PAGE };
  return injectionCall(scenario, spec);
}

// ---------------------------------------------------------------- figures

function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

function stats(latencies) {
  const s = [...latencies].sort((a, b) => a - b);
  const sum = s.reduce((a, b) => a + b, 0);
  return { n: s.length, p50: percentile(s, 50), p90: percentile(s, 90), p99: percentile(s, 99), max: s[s.length - 1] ?? NaN, mean: s.length ? sum / s.length : NaN };
}

const ms = (v, digits = 2) => (Number.isFinite(v) ? `${v.toFixed(digits)} ms` : 'n/a');

class Progress {
  constructor(label, total) {
    this.label = label;
    this.total = total;
    this.t0 = performance.now();
    this.last = 0;
    this.tty = process.stderr.isTTY;
  }
  update(done, extra = '') {
    const now = performance.now();
    const final = done >= this.total;
    if (!final && now - this.last < (this.tty ? 200 : 5000)) return;
    this.last = now;
    const s = (now - this.t0) / 1000;
    const line = `${this.label}: ${done}/${this.total} in ${s.toFixed(1)} s, ${(done / Math.max(s, 1e-9)).toFixed(0)}/s${extra ? `, ${extra}` : ''}`;
    if (this.tty) process.stderr.write(`\r\x1b[K${line}`);
    else process.stderr.write(`${line}\n`);
  }
  end() {
    if (this.tty) process.stderr.write('\n');
  }
}

// ---------------------------------------------------------------- process memory

function rssKb(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The pid listening on TCP `port` on this machine (from /proc/net/tcp*; only processes we may read). */
function pidListeningOn(port) {
  const inodes = new Set();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue; // LISTEN
      if (parseInt(f[1].split(':').pop(), 16) === port) inodes.add(f[9]);
    }
  }
  if (inodes.size === 0) return null;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds;
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1])) return Number(pid);
      } catch {
        // gone
      }
    }
  }
  return null;
}

function portOf(url) {
  try {
    const u = new URL(url.includes('://') ? url : `tcp://${url}`);
    return Number(u.port) || null;
  } catch {
    return null;
  }
}

/** CPU time (user + system) of a process so far, in ms; null if it cannot be read. */
function cpuMs(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return null;
  }
}

/** Pids whose command name is `comm` (e.g. every postgres backend, redis-server). */
function pidsNamed(comm) {
  const out = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm) out.push(Number(pid));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU ms of each named group of pids; the difference of two of these is a phase's CPU. */
function cpuSnapshot(groups) {
  const out = {};
  for (const [name, pids] of Object.entries(groups)) {
    let total = 0;
    for (const pid of pids) total += cpuMs(pid) ?? 0;
    out[name] = total;
  }
  return out;
}

/** Machine-wide CPU ms (busy, total) from /proc/stat, over all cpus. */
function machineCpu() {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = f[3] + (f[4] || 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: ((total - idle) * 1000) / 100, total: (total * 1000) / 100 };
}

function cpuDelta(a, b) {
  const out = {};
  for (const k of Object.keys(b)) out[k] = b[k] - (a[k] ?? 0);
  return out;
}

// ---------------------------------------------------------------- embedded

/** Store steps per host for one injection: each call into a host and each reply back is one step. */
function stepsPerHost(trace) {
  const steps = { pmem: 0, dax: 0, dm: 0, xfs: 0, mm: 0 };
  const root = ownerOf(trace.op);
  steps[root]++;
  const walk = (node, owner) => {
    for (const c of node.children) {
      if (c.kind !== 'call') continue;
      const o = ownerOf(c.op);
      if (o !== owner) {
        steps[o]++;
        steps[owner]++;
      }
      walk(c, o);
    }
  };
  walk(trace, root);
  return steps;
}

function countCrossHost(trace) {
  // Root call from the user, then every call whose owner differs from its caller's.
  let calls = 1;
  const walk = (node, owner) => {
    for (const c of node.children) {
      if (c.kind !== 'call') continue;
      const o = ownerOf(c.op);
      if (o !== owner) calls++;
      walk(c, o);
    }
  };
  walk(trace, ownerOf(trace.op));
  return calls;
}

function runEmbedded(scenario, pages) {
  const tBoot = performance.now();
  const booted = bootScenario(scenario);
  const bootMs = performance.now() - tBoot;
  const kernel = booted.kernel;
  const latencies = [];
  const traces = [];
  const signalDelta = new Array(pages).fill(0);
  const rcs = new Map();
  const progress = new Progress('embedded', pages);
  const t0 = performance.now();
  for (let p = 0; p < pages; p++) {
    const call = injectionOf(scenario, p);
    const before = kernel.mm.signals.length;
    const a = performance.now();
    const r = runCall(kernel, call.op, call.args, call.ctx);
    latencies.push(performance.now() - a);
    traces.push(r.trace);
    signalDelta[p] = kernel.mm.signals.length - before;
    const rc = r.panic !== null ? 'PANIC' : String(r.result);
    rcs.set(rc, (rcs.get(rc) ?? 0) + 1);
    progress.update(p + 1);
  }
  progress.end();
  const wallMs = performance.now() - t0;
  return {
    bootMs,
    wallMs,
    latencies,
    rate: pages / (wallMs / 1000),
    signals: kernel.mm.signals.length,
    signalDelta,
    rcs,
    crossHostCalls: countCrossHost(traces[0]),
    steps: stepsPerHost(traces[0]),
    opsInTrace: countOps(traces[0]),
    bootedKernel: kernel,
    freshBoot: () => bootScenario(scenario).kernel,
  };
}

function countOps(trace) {
  let n = 0;
  const walk = (node) => {
    n++;
    for (const c of node.children) if (c.kind === 'call') walk(c);
  };
  walk(trace);
  return n;
}

// ---------------------------------------------------------------- distributed

async function setupRun(cluster, scenario, options, label) {
  const t0 = performance.now();
  if (!options.setupCalls) {
    // The embedded boot's end state, handed to the services as their initial state.
    await cluster.setup({ kernel: bootScenario(scenario).kernel, setupCalls: [] });
    return { ms: performance.now() - t0, calls: 0 };
  }
  const plan = planBoot(scenario);
  await cluster.setup({ kernel: plan.kernel, setupCalls: [] });
  const progress = new Progress(`${label} set-up calls`, plan.setupCalls.length);
  let n = 0;
  for (const call of plan.setupCalls) {
    await cluster.call(randomUUID(), call.op, call.args, call.ctx);
    progress.update(++n);
  }
  progress.end();
  return { ms: performance.now() - t0, calls: n };
}

async function sequentialPhase(cluster, scenario, pages, budgetMs, label = 'sequential') {
  const latencies = [];
  const done = [];
  const rcs = new Map();
  const progress = new Progress(label, pages);
  const t0 = performance.now();
  for (let p = 0; p < pages; p++) {
    if (performance.now() - t0 > budgetMs) break;
    const call = injectionOf(scenario, p);
    const a = performance.now();
    const r = await cluster.call(randomUUID(), call.op, call.args, call.ctx);
    const lat = performance.now() - a;
    latencies.push(lat);
    done.push(p);
    const rc = r.panic !== undefined ? 'PANIC' : String(r.result);
    rcs.set(rc, (rcs.get(rc) ?? 0) + 1);
    progress.update(p + 1, `last ${lat.toFixed(1)} ms`);
  }
  progress.end();
  return { wallMs: performance.now() - t0, latencies, done, rcs, cut: done.length < pages };
}

async function inflightPhase(cluster, scenario, pages, inflight, budgetMs) {
  const latencies = [];
  const done = [];
  const rcs = new Map();
  const progress = new Progress(`in flight ×${inflight}`, pages);
  let next = 0;
  let active = 0;
  let cut = false;
  const t0 = performance.now();
  const worker = async () => {
    for (;;) {
      if (next >= pages) return;
      if (performance.now() - t0 > budgetMs) {
        cut = true;
        return;
      }
      const p = next++;
      const call = injectionOf(scenario, p);
      active++;
      const a = performance.now();
      const r = await cluster.call(randomUUID(), call.op, call.args, call.ctx);
      latencies.push(performance.now() - a);
      active--;
      done.push(p);
      const rc = r.panic !== undefined ? 'PANIC' : String(r.result);
      rcs.set(rc, (rcs.get(rc) ?? 0) + 1);
      progress.update(done.length, `${active} in flight`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inflight, pages) }, worker));
  progress.end();
  const wallMs = performance.now() - t0;
  return { wallMs, latencies, done, rcs, cut, rate: done.length / (wallMs / 1000) };
}

// ---------------------------------------------------------------- probes (measured from outside)

async function probeKafka(brokers, topicPrefix, rounds) {
  const { createKafka } = require('../libs/messaging/dist');
  const kafka = createKafka({ clientId: 'bench-probe', brokers, logger: { log: () => undefined, warn: () => undefined, error: () => undefined } });
  const admin = kafka.admin();
  await admin.connect();
  const topic = `${topicPrefix}bench-probe-${randomUUID().slice(0, 8)}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  // The services' consumer settings (libs/messaging kafka-runtime.ts): maxWaitTimeInMs 1000.
  const consumer = kafka.consumer({ groupId: `${topic}-g`, maxWaitTimeInMs: 1000, allowAutoTopicCreation: false, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  try {
    await Promise.all([producer.connect(), consumer.connect()]);
    await consumer.subscribe({ topic, fromBeginning: true });
    const waiting = new Map();
    const joined = new Promise((resolve) => consumer.on(consumer.events.GROUP_JOIN, resolve));
    await consumer.run({
      eachMessage: async ({ message }) => {
        const w = waiting.get(message.value.toString());
        if (w) w();
      },
    });
    await joined;
    const send = [];
    const oneWay = [];
    const body = 'x'.repeat(600); // about an envelope's size
    for (let i = 0; i < rounds + 10; i++) {
      const id = `${i}-${randomUUID()}`;
      const got = new Promise((resolve) => waiting.set(id, resolve));
      const a = performance.now();
      await producer.send({ topic, messages: [{ key: 'k', value: id, headers: { pad: body } }] });
      const b = performance.now();
      await got;
      const c = performance.now();
      waiting.delete(id);
      if (i >= 10) {
        send.push(b - a);
        oneWay.push(c - a);
      }
    }
    return { send: stats(send), oneWay: stats(oneWay) };
  } finally {
    await Promise.allSettled([consumer.disconnect(), producer.disconnect()]);
    await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin.deleteGroups([`${topic}-g`]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
  }
}

async function probePg(databaseUrl, rounds) {
  const { Client } = require('pg');
  const c = new Client({ connectionString: databaseUrl });
  await c.connect();
  try {
    await c.query('CREATE TEMP TABLE bench_probe (run_id text PRIMARY KEY, version bigint, value text)');
    await c.query("INSERT INTO bench_probe VALUES ('r', 1, '')");
    const select1 = [];
    const tx = [];
    for (let i = 0; i < rounds; i++) {
      let a = performance.now();
      await c.query('SELECT 1');
      select1.push(performance.now() - a);
      // The shape of one PgHopStore step: lock the run, read, write, bump, commit.
      a = performance.now();
      await c.query('BEGIN');
      await c.query("SELECT version FROM bench_probe WHERE run_id = 'r' FOR UPDATE");
      await c.query("SELECT value FROM bench_probe WHERE run_id = 'r'");
      await c.query("UPDATE bench_probe SET value = $1 WHERE run_id = 'r'", ['y'.repeat(500)]);
      await c.query("UPDATE bench_probe SET version = version + 1 WHERE run_id = 'r'");
      await c.query('COMMIT');
      tx.push(performance.now() - a);
    }
    const sc = await c.query("SHOW synchronous_commit");
    return { select1: stats(select1), tx: stats(tx), synchronousCommit: sc.rows[0].synchronous_commit };
  } finally {
    await c.end();
  }
}

async function probeRedis(url, rounds) {
  const { default: Redis } = require('ioredis');
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await r.connect();
  const key = `bench-probe:${randomUUID()}`;
  try {
    const ping = [];
    const step = [];
    await r.set(`${key}:ver`, '1');
    for (let i = 0; i < rounds; i++) {
      let a = performance.now();
      await r.ping();
      ping.push(performance.now() - a);
      // The shape of one RedisHopStore step: WATCH, GET, HGETALL, MULTI/EXEC.
      a = performance.now();
      await r.watch(`${key}:ver`);
      await r.get(`${key}:ver`);
      await r.hgetall(`${key}:c`);
      await r.multi().hset(`${key}:e`, { a: 'y'.repeat(300) }).hset(`${key}:c`, { b: 'z'.repeat(300) }).incr(`${key}:ver`).exec();
      step.push(performance.now() - a);
    }
    return { ping: stats(ping), step: stats(step) };
  } finally {
    await r.del(`${key}:ver`, `${key}:e`, `${key}:c`).catch(() => undefined);
    r.disconnect();
  }
}

/** What each host's store does on every step whatever the step is: encode its whole state and diff it. */
function probeCodec(kernel, rounds) {
  const out = {};
  for (const subsys of ['pmem', 'dax', 'dm', 'xfs', 'mm']) {
    const entities = encodeState(subsys, kernel[subsys]);
    const enc = [];
    const dec = [];
    for (let i = 0; i < rounds; i++) {
      let a = performance.now();
      encodeState(subsys, kernel[subsys]);
      enc.push(performance.now() - a);
      a = performance.now();
      decodeState(subsys, entities);
      dec.push(performance.now() - a);
    }
    out[subsys] = { entities: entities.size, encode: stats(enc).p50, decode: stats(dec).p50 };
  }
  return out;
}

// ---------------------------------------------------------------- main

function rcText(rcs) {
  return [...rcs].map(([k, v]) => `rc ${k} ×${v}`).join(', ');
}

function pad(s, n) {
  s = String(s);
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const N = options.injections;
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`distributed bench: node ${process.version}, ${os.cpus().length} cpu(s), load ${load}; ${N} injections, ${options.inflight} in flight`);

  const scenario = buildScenario(N);

  // Embedded first: the reference figures and the expected signals.
  const embedded = runEmbedded(scenario, N);
  const emb = stats(embedded.latencies);
  console.log(
    `embedded: boot ${embedded.bootMs.toFixed(0)} ms; ${N} injections in ${embedded.wallMs.toFixed(0)} ms, ${embedded.signals} SIGBUS, ${rcText(embedded.rcs)}; ` +
      `one injection = ${embedded.opsInTrace} calls, ${embedded.crossHostCalls} of them into another host`,
  );

  // The stack.
  let stack = null;
  let zipkin = null;
  let target;
  const pids = {};
  const tStack = performance.now();
  try {
    if (options.stack) {
      const { stackTarget } = require('../tools/cli/dist/distributed/stack-target.js');
      target = stackTarget();
      for (const [subsys, urls] of Object.entries(target.serviceUrls)) {
        const pid = pidListeningOn(portOf(urls[0]));
        if (pid) pids[subsys] = pid;
      }
    } else {
      const { TestStack } = require('../libs/testing/dist');
      const env = options.cpuProf ? { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${options.cpuProf}` } : {};
      if (options.traces === 'zipkin') {
        const { ensureZipkinJar, findFreePorts, startZipkinServer } = require('../libs/stack/dist');
        ensureZipkinJar();
        const [port] = await findFreePorts(1);
        zipkin = await startZipkinServer({ port, logFile: require('node:path').join(os.tmpdir(), `mfsim-bench-zipkin-${process.pid}.log`) });
        pids.zipkin = zipkin.pid;
        Object.assign(env, { OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: zipkin.spansEndpoint });
        console.log(`traces: every span to Zipkin ${zipkin.url} (started in ${(zipkin.startupMs / 1000).toFixed(1)} s)`);
      }
      stack = await TestStack.start({ env });
      target = { brokers: process.env.MFSIM_TEST_KAFKA_BROKERS.split(',').map((b) => b.trim()), topicPrefix: stack.topicPrefix, serviceUrls: stack.serviceUrls() };
      const subsysOf = { 'pmem-driver': 'pmem', 'dax-core': 'dax', 'dm-mapper': 'dm', 'xfs-fs': 'xfs', 'mm-process': 'mm' };
      for (const s of stack.services) pids[subsysOf[s.name]] = s.child.pid;
    }
  } catch (err) {
    console.error(`distributed-bench: the stack did not start: ${err && err.message ? err.message : String(err)}`);
    if (stack) await stack.stop().catch(() => undefined);
    if (zipkin) await zipkin.stop().catch(() => undefined);
    process.exitCode = 1;
    return;
  }
  // Ctrl-C / SIGTERM mid-run: still stop what this process started.
  let interrupted = false;
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.once(sig, () => {
      if (interrupted) return;
      interrupted = true;
      process.stderr.write(`\ndistributed-bench: ${sig}, stopping the stack\n`);
      const stopping = (stack ? stack.stop() : Promise.resolve()).finally(() => (zipkin ? zipkin.stop() : undefined));
      void stopping.catch(() => undefined).finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
  const stackMs = performance.now() - tStack;
  console.log(`stack: ${options.stack ? 'running mfsim stack' : `TestStack started in ${(stackMs / 1000).toFixed(1)} s`} (Kafka ${target.brokers.join(',')}, prefix "${target.topicPrefix}")`);

  const { KafkaCluster } = require('../tools/cli/dist/distributed/kafka-cluster.js');
  let cluster = null;
  let ok = true;
  const rss = {};
  const sampleRss = () => {
    for (const [name, pid] of Object.entries(pids)) {
      const kb = rssKb(pid);
      if (kb !== null) rss[name] = Math.max(rss[name] ?? 0, kb);
    }
    const self = rssKb(process.pid);
    if (self !== null) rss.bench = Math.max(rss.bench ?? 0, self);
  };
  const kafkaPid = Number(process.env.MFSIM_BENCH_KAFKA_PID) || pidListeningOn(portOf(target.brokers[0]));
  if (kafkaPid) pids.kafka = kafkaPid;
  // PostgreSQL backends of this stack's database only (their title names it); every backend
  // on the server when the database is not ours to know (--stack).
  const dbName = stack ? stack.database.name : null;
  const pgBackends = () =>
    pidsNamed('postgres').filter((pid) => {
      if (!dbName) return true;
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(` ${dbName} `);
      } catch {
        return false;
      }
    });
  let pgPids = pgBackends();
  const redisPids = pidsNamed('redis-server');
  const cpuGroups = () => {
    pgPids = pgBackends();
    const g = {};
    for (const k of ['pmem', 'dax', 'dm', 'xfs', 'mm', 'kafka', 'zipkin']) if (pids[k]) g[k] = [pids[k]];
    g.bench = [process.pid];
    g.postgres = pgPids;
    g.redis = redisPids;
    return g;
  };
  const sampler = setInterval(sampleRss, 500);
  sampler.unref();
  let seq;
  let inf;
  let seqSignals;
  let infSignals;
  let setupInfo;
  let idle;
  let probes = null;
  try {
    cluster = await KafkaCluster.connect({ ...target, dropOnClose: true, callTimeoutMs: 60_000 });

    if (options.warmup > 0) {
      await setupRun(cluster, scenario, { setupCalls: false }, 'warm-up');
      await sequentialPhase(cluster, scenario, Math.min(options.warmup, N), options.phaseSeconds * 1000, 'warm-up');
    }

    // (a) one injection at a time.
    setupInfo = await setupRun(cluster, scenario, options, 'sequential');
    console.log(
      options.setupCalls
        ? `set-up through the services: ${setupInfo.calls} root calls (mount + faults) in ${(setupInfo.ms / 1000).toFixed(1)} s, ${(setupInfo.calls / (setupInfo.ms / 1000)).toFixed(0)} calls/s`
        : `set-up: the embedded boot's state handed to the services in ${setupInfo.ms.toFixed(0)} ms (--setup-calls to boot through them)`,
    );
    // Idle baseline: what the processes burn with nothing to do (polls, heartbeats, sweeps).
    let c0 = cpuSnapshot(cpuGroups());
    let m0 = machineCpu();
    const idleT0 = performance.now();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    idle = { cpu: cpuDelta(c0, cpuSnapshot(cpuGroups())), machine: cpuDelta(m0, machineCpu()), wallMs: performance.now() - idleT0 };
    c0 = cpuSnapshot(cpuGroups());
    m0 = machineCpu();
    seq = await sequentialPhase(cluster, scenario, N, options.phaseSeconds * 1000);
    seq.cpu = cpuDelta(c0, cpuSnapshot(cpuGroups()));
    seq.machine = cpuDelta(m0, machineCpu());
    sampleRss();
    seqSignals = (await cluster.kernel()).mm.signals.length;

    // (b) M in flight on a fresh run of the same scenario.
    await setupRun(cluster, scenario, { setupCalls: false }, 'in flight');
    c0 = cpuSnapshot(cpuGroups());
    m0 = machineCpu();
    inf = await inflightPhase(cluster, scenario, N, options.inflight, options.phaseSeconds * 1000);
    inf.cpu = cpuDelta(c0, cpuSnapshot(cpuGroups()));
    inf.machine = cpuDelta(m0, machineCpu());
    sampleRss();
    infSignals = (await cluster.kernel()).mm.signals.length;
  } catch (err) {
    console.error(`distributed-bench: ${err && err.message ? err.message : String(err)}`);
    if (stack) console.error(stack.logs());
    ok = false;
  } finally {
    clearInterval(sampler);
  }

  if (ok && options.probes) {
    try {
      const rounds = 200;
      const dbUrl = stack ? stack.database.url : process.env.DATABASE_URL || process.env.MFSIM_TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
      const redisUrl = process.env.MFSIM_TEST_REDIS_URL || process.env.REDIS_URL || 'redis://127.0.0.1:6379';
      probes = {
        kafka: await probeKafka(target.brokers, target.topicPrefix, rounds),
        pg: dbUrl ? await probePg(dbUrl, rounds) : null,
        redis: await probeRedis(redisUrl, rounds),
        codec: probeCodec(embedded.freshBoot(), 20),
      };
    } catch (err) {
      console.error(`distributed-bench: a probe failed: ${err && err.message ? err.message : String(err)}`);
    }
  }

  if (cluster) await cluster.close().catch(() => undefined);
  if (stack) await stack.stop().catch((err) => console.error(`distributed-bench: stack.stop: ${err.message}`));
  if (zipkin) {
    await zipkin.stop().catch((err) => console.error(`distributed-bench: zipkin.stop: ${err.message}`));
    require('node:fs').rmSync(zipkin.logFile, { force: true });
  }
  if (options.cpuProf) console.log(`CPU profiles of the services: ${options.cpuProf}`);

  if (!ok) {
    process.exitCode = 1;
    return;
  }

  // ------------------------------------------------------------ report
  const s = stats(seq.latencies);
  const f = stats(inf.latencies);
  const seqRate = seq.done.length / (seq.wallMs / 1000);
  const mark = (good) => (good ? 'meets' : 'MISSES');
  console.log('');
  console.log(`${pad('figure', 40)}${pad('distributed', 16)}${pad('embedded', 16)}${pad('ratio d/e', 12)}target`);
  const row = (name, d, e, target, good) =>
    console.log(`${pad(name, 40)}${pad(d, 16)}${pad(e, 16)}${pad(target === '' ? '' : ratioText(d, e), 12)}${target}${target && good !== undefined ? ` (${mark(good)})` : ''}`);
  const ratioText = (d, e) => {
    const a = parseFloat(d);
    const b = parseFloat(e);
    return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${(a / b).toFixed(0)}×` : '';
  };
  row(`sequential p50 (${s.n} injections)`, ms(s.p50), ms(emb.p50, 3), '≤ 10 ms', s.p50 <= TARGETS.p50);
  row('sequential p90', ms(s.p90), ms(emb.p90, 3), '-');
  row('sequential p99', ms(s.p99), ms(emb.p99, 3), '≤ 50 ms', s.p99 <= TARGETS.p99);
  row('sequential max', ms(s.max), ms(emb.max, 3), '-');
  row('sequential failures/s', `${seqRate.toFixed(0)}/s`, `${embedded.rate.toFixed(0)}/s`, '-');
  row(`in flight ×${options.inflight} failures/s (${f.n})`, `${inf.rate.toFixed(0)}/s`, `${embedded.rate.toFixed(0)}/s`, '≥ 500/s', inf.rate >= TARGETS.rate);
  row(`in flight ×${options.inflight} latency p50`, ms(f.p50), '', '');
  row(`in flight ×${options.inflight} latency p99`, ms(f.p99), '', '');
  console.log(`(ratio d/e for failures/s is distributed/embedded: < 1 means slower. Targets are for reference, not assertions.)`);
  if (seq.cut || inf.cut) console.log(`note: --phase-seconds ${options.phaseSeconds} cut a phase short: sequential ${seq.done.length}/${N}, in flight ${inf.done.length}/${N}`);
  console.log(`results: sequential ${rcText(seq.rcs)}; in flight ${rcText(inf.rcs)}`);
  console.log(`load average now ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} on ${os.cpus().length} cpu(s) (other work on the machine skews the figures)`);

  console.log('');
  console.log('CPU per injection by process (user+system from /proc, ms), and machine-wide busy CPU:');
  const cpuNames = { pmem: 'pmem-driver', dax: 'dax-core', dm: 'dm-mapper', xfs: 'xfs-fs', mm: 'mm-process', kafka: 'Kafka broker', zipkin: 'Zipkin server', bench: 'bench (client)', postgres: dbName ? "postgres (this DB's backends)" : 'postgres (all backends)', redis: 'redis-server' };
  console.log(`  ${pad('process', 30)}${pad('idle (ms per s)', 18)}${pad(`sequential (${seq.done.length})`, 22)}in flight ×${options.inflight} (${inf.done.length})`);
  let sumSeq = 0;
  let sumInf = 0;
  for (const k of Object.keys(cpuNames)) {
    if (seq.cpu[k] === undefined) continue;
    sumSeq += seq.cpu[k];
    sumInf += inf.cpu[k];
    console.log(`  ${pad(cpuNames[k], 30)}${pad(ms((idle.cpu[k] ?? 0) / (idle.wallMs / 1000)), 18)}${pad(ms(seq.cpu[k] / Math.max(1, seq.done.length)), 22)}${ms(inf.cpu[k] / Math.max(1, inf.done.length))}`);
  }
  const idleSum = Object.values(idle.cpu).reduce((a, b) => a + b, 0) / (idle.wallMs / 1000);
  console.log(`  ${pad('sum of the above', 30)}${pad(ms(idleSum), 18)}${pad(ms(sumSeq / Math.max(1, seq.done.length)), 22)}${ms(sumInf / Math.max(1, inf.done.length))}`);
  const idleRate = Object.values(idle.cpu).reduce((a, b) => a + b, 0) / idle.wallMs; // CPU ms per wall ms
  const net = (ph, sum) => (sum - idleRate * ph.wallMs) / Math.max(1, ph.done.length);
  console.log(`  ${pad('sum net of the idle burn', 30)}${pad('', 18)}${pad(ms(net(seq, sumSeq)), 22)}${ms(net(inf, sumInf))}`);
  const busyLine = (ph) => `${((ph.machine.busy / ph.machine.total) * 100).toFixed(0)}% busy, ${(((ph.machine.busy - Object.values(ph.cpu).reduce((a, b) => a + b, 0)) / ph.machine.total) * 100).toFixed(0)}% of it other work`;
  console.log(`  machine (${os.cpus().length} cpus): idle baseline ${busyLine(idle)}; sequential ${busyLine(seq)}; in flight ${busyLine(inf)}`);

  console.log('');
  console.log('peak RSS (VmRSS, sampled every 0.5 s):');
  const names = { pmem: 'pmem-driver', dax: 'dax-core', dm: 'dm-mapper', xfs: 'xfs-fs', mm: 'mm-process', kafka: `Kafka broker (pid ${pids.kafka ?? '?'})`, bench: 'this bench process' };
  for (const key of ['pmem', 'dax', 'dm', 'xfs', 'mm', 'kafka', 'bench']) {
    console.log(`  ${pad(names[key], 34)}${rss[key] !== undefined ? `${(rss[key] / 1024).toFixed(0)} MiB` : key === 'kafka' ? 'n/a (set MFSIM_BENCH_KAFKA_PID)' : 'n/a'}`);
  }

  if (probes) {
    const k = probes.kafka;
    console.log('');
    console.log('round trips measured from outside (p50 / p99):');
    console.log(`  Kafka produce (acks all, awaited)            ${ms(k.send.p50)} / ${ms(k.send.p99)}`);
    console.log(`  Kafka produce -> consumed (one hop, 1 msg)   ${ms(k.oneWay.p50)} / ${ms(k.oneWay.p99)}`);
    if (probes.pg) {
      console.log(`  PostgreSQL SELECT 1                          ${ms(probes.pg.select1.p50)} / ${ms(probes.pg.select1.p99)}`);
      console.log(`  PostgreSQL step-shaped tx (6 statements)     ${ms(probes.pg.tx.p50)} / ${ms(probes.pg.tx.p99)} (synchronous_commit ${probes.pg.synchronousCommit})`);
    }
    console.log(`  Redis PING                                   ${ms(probes.redis.ping.p50)} / ${ms(probes.redis.ping.p99)}`);
    console.log(`  Redis step-shaped WATCH/GET/HGETALL/MULTI    ${ms(probes.redis.step.p50)} / ${ms(probes.redis.step.p99)}`);
    console.log(`  full-state encode + decode per host (p50), which every step's encode/diff pays:`);
    for (const [subsys, c] of Object.entries(probes.codec)) {
      console.log(`    ${pad(subsys, 6)}${pad(`${c.entities} entities`, 18)}encode ${ms(c.encode)}, decode ${ms(c.decode)}`);
    }
    const hops = embedded.crossHostCalls;
    const st = embedded.steps;
    const steps = Object.values(st).reduce((a, b) => a + b, 0);
    const pgTx = probes.pg ? probes.pg.tx.p50 : 0;
    const kafkaPart = 2 * hops * k.oneWay.p50;
    let storePart = 0;
    let encodePart = 0;
    for (const [h, n] of Object.entries(st)) {
      // mm: a Redis step, then the incident journal's copy of the records in PostgreSQL.
      storePart += n * (h === 'mm' ? probes.redis.step.p50 + pgTx : pgTx);
      encodePart += n * probes.codec[h].encode;
    }
    console.log(
      `  one injection = ${hops} root/cross-host calls = ${2 * hops} Kafka messages, ${steps} store steps ` +
        `(${Object.entries(st).filter(([, n]) => n > 0).map(([h, n]) => `${h} ${n}`).join(', ')})`,
    );
    console.log(
      `  floor from the probes: Kafka ${2 * hops} × ${k.oneWay.p50.toFixed(2)} = ${kafkaPart.toFixed(1)} ms + stores ${storePart.toFixed(1)} ms + ` +
        `full-state encodes ${encodePart.toFixed(1)} ms = ${(kafkaPart + storePart + encodePart).toFixed(1)} ms, vs measured sequential p50 ${ms(s.p50)}`,
    );
  }

  // ------------------------------------------------------------ correctness
  const expectedSeq = seq.done.reduce((a, p) => a + embedded.signalDelta[p], 0);
  const expectedInf = inf.done.reduce((a, p) => a + embedded.signalDelta[p], 0);
  const allOne = embedded.signalDelta.every((d) => d === 1);
  const pass = allOne && embedded.signals === N && seqSignals === expectedSeq && infSignals === expectedInf && seq.done.length > 0 && inf.done.length > 0;
  console.log('');
  console.log(
    `check: embedded ${embedded.signals} SIGBUS for ${N} injections (one each: ${allOne}); distributed sequential ${seqSignals} for ${seq.done.length} (expected ${expectedSeq}), ` +
      `in flight ${infSignals} for ${inf.done.length} (expected ${expectedInf}) -> ${pass ? 'PASS' : 'FAIL'}`,
  );
  if (!pass) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err && err.stack ? err.stack : String(err));
  process.exitCode = 1;
});
