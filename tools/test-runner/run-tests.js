#!/usr/bin/env node
// Runs every compiled test in the workspace with Node's own test runner:
//   1. unit tests         libs|services|tools/*/dist/**/*.spec.js
//   2. integration tests  libs|services|tools/*/dist/**/*.int-spec.js, one file at a time
//
// Integration tests need real servers (docs/conventions.md, "Tests"). For each of Kafka, PostgreSQL
// and Redis (libs/testing/dist/test-servers.js decides):
//   1. its MFSIM_TEST_* variable, when set (.ci/run and `mfsim stack` provide them);
//   2. else, where a Docker engine answers a ping and MFSIM_TEST_NO_CONTAINERS is not 1, a
//      container started with testcontainers (libs/testing/dist/test-containers.js);
//   3. else today's local servers: for Kafka this script fetches the broker jars if needed and
//      starts its own broker on free ports (libs/stack/dist/kafka-broker.js); PostgreSQL and
//      Redis are the machine's, at the defaults.
// Whatever it starts, it passes to the tests as MFSIM_TEST_* and stops at the end (also on
// SIGINT/SIGTERM). If the containers cannot be started, it says so and falls back to 3.
//
// Usage: node tools/test-runner/run-tests.js [--unit|--integration] [FILTER...]
//   FILTER  only files whose path contains one of these strings
// Run `npm run build` first (`npm test` does). Exit code: 0 when every test passed.
'use strict';

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');

const ROOT = path.resolve(__dirname, '..', '..');
const PROJECT_DIRS = ['libs', 'services', 'tools'];
const SUMMARY_KEYS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo'];

const startedAt = Date.now();
const elapsed = () => `${((Date.now() - startedAt) / 1000).toFixed(1)}s`;
const say = (line) => process.stdout.write(`[test-runner +${elapsed()}] ${line}\n`);

// ---- Test servers ------------------------------------------------------------------------------
//
// Where each server comes from is planned by libs/testing (test-servers.ts); the two ways of
// starting servers are below. Each `start` resolves to { env, describe: [lines], stop }.

const testing = (file) => require(path.join(ROOT, 'libs', 'testing', 'dist', file));
/** The launchers (Kafka broker JVM, processes) live in libs/stack, shared with `mfsim stack`. */
const stack = (file) => require(path.join(ROOT, 'libs', 'stack', 'dist', file));

/** Containers from testcontainers (only where a Docker engine answers; loads testcontainers lazily). */
const containerServers = {
  name: 'testcontainers',
  async start(kinds, signal) {
    const { startTestContainers } = testing('test-containers.js');
    const { redactPassword } = testing('test-servers.js');
    const handle = await startTestContainers({
      kinds,
      signal,
      kafkaHeapMb: Number(process.env.MFSIM_TEST_KAFKA_HEAP_MB) || undefined,
      log: (line) => say(`containers: ${line}`),
    });
    return {
      env: handle.env,
      describe: handle.servers.map(
        (s) => `${s.kind}: ${s.image} at ${redactPassword(s.value)} (container ${s.containerId.slice(0, 12)}, ready in ${(s.startupMs / 1000).toFixed(1)}s)`,
      ),
      stop: () => handle.stop(),
    };
  },
};

/** Starts a broker JVM from deploy/kafka/target/libs (fetched with Maven if missing). */
const localJvmKafka = {
  name: 'local JVM broker (deploy/kafka)',
  prepare() {
    stack('kafka-broker.js').ensureKafkaJars({ log: (line) => say(`kafka: ${line}`) });
  },
  async start(signal) {
    const broker = stack('kafka-broker.js');
    const handle = await broker.startKafkaBroker({
      heapMb: Number(process.env.MFSIM_TEST_KAFKA_HEAP_MB) || undefined,
      readyTimeoutMs: 120_000,
      signal,
    });
    return {
      env: { MFSIM_TEST_KAFKA_BROKERS: handle.brokers.join(',') },
      describe: [`kafka: Kafka ${broker.kafkaVersion()} at ${handle.brokers.join(',')} (pid ${handle.pid}, ready in ${(handle.startupMs / 1000).toFixed(1)}s, log ${handle.logFile})`],
      stop: () => handle.stop(),
    };
  },
};

/** Prints where each server comes from and why; returns the kinds to start as containers and locally. */
async function planServers() {
  const { planTestServers } = testing('test-servers.js');
  const { probeDockerEngine } = testing('docker-engine.js');
  const plan = await planTestServers({ env: process.env, probeDocker: () => probeDockerEngine() });
  if (plan.docker) {
    const d = plan.docker;
    say(d.available ? `docker: engine answers at ${d.endpoint}${d.detail ? ` (${d.detail})` : ''}` : `docker: no engine (${d.reason}, ${d.elapsedMs} ms)`);
  }
  for (const c of plan.choices) say(`${c.kind}: ${c.why}`);
  const kinds = (source) => plan.choices.filter((c) => c.source === source).map((c) => c.kind);
  return { containers: kinds('container'), local: kinds('local') };
}

/**
 * Starts the planned servers: containers first; if they cannot start, the same servers locally.
 * Each started set is registered for cleanup as soon as it runs. Resolves to { env }.
 */
async function startServers({ containers, local }) {
  const env = {};
  const localKinds = [...local];
  if (containers.length > 0) {
    try {
      const s = await containerServers.start(containers, startAbort.signal);
      cleanup.push(() => s.stop());
      Object.assign(env, s.env);
      for (const line of s.describe) say(`containers: ready: ${line}`);
    } catch (err) {
      if (startAbort.signal.aborted) throw err;
      say(`containers: ${err && err.message ? err.message : err}`);
      say(`containers: falling back to the local servers for ${containers.join(', ')} (MFSIM_TEST_NO_CONTAINERS=1 skips the attempt)`);
      localKinds.push(...containers);
    }
  }
  // Local PostgreSQL and Redis are the machine's own, at the defaults: nothing to start.
  if (localKinds.includes('kafka') && !startAbort.signal.aborted) {
    say(`kafka: starting a ${localJvmKafka.name}`);
    localJvmKafka.prepare();
    const k = await localJvmKafka.start(startAbort.signal);
    cleanup.push(() => k.stop());
    Object.assign(env, k.env);
    for (const line of k.describe) say(`ready: ${line}`);
  }
  return { env };
}

// ---- Files -------------------------------------------------------------------------------------

/** Files under each <libs|services|tools>/<project>/dist whose name ends with `suffix`. */
function findTestFiles(suffix, filters) {
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === 'node_modules') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() && entry.name.endsWith(suffix)) found.push(full);
    }
  };
  for (const top of PROJECT_DIRS) {
    const topDir = path.join(ROOT, top);
    if (!fs.existsSync(topDir)) continue;
    for (const project of fs.readdirSync(topDir, { withFileTypes: true })) {
      const dist = path.join(topDir, project.name, 'dist');
      if (project.isDirectory() && fs.existsSync(dist)) walk(dist);
    }
  }
  const rel = found.map((f) => path.relative(ROOT, f)).sort();
  return filters.length === 0 ? rel : rel.filter((f) => filters.some((s) => f.includes(s)));
}

// ---- Running node --test -----------------------------------------------------------------------

let currentChild = null;

/**
 * Runs `node --test` over `files` with the TAP reporter, echoing its output live, and returns the
 * exit code and the summary counts (`# pass N`, ...).
 */
function runNodeTest(label, files, extraArgs, env) {
  return new Promise((resolve) => {
    const args = ['--test', '--test-reporter=tap', ...extraArgs, ...files];
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    currentChild = child;
    const counts = {};
    // Top-level `not ok` lines: a file or suite that failed outside any test (a describe callback
    // that threw, a file that would not load) is one of these, but counts in no `# fail`.
    let failedTopLevel = 0;
    let mark = null;
    const echo = (stream, out) =>
      readline.createInterface({ input: stream }).on('line', (line) => {
        out.write(`${line}\n`);
        const m = /^# (\w+) (\d+)/.exec(line);
        if (m && SUMMARY_KEYS.includes(m[1])) counts[m[1]] = Number(m[2]);
        // A top-level test (a file's suite or test) finished: after its TAP diagnostics block,
        // print a progress mark with the elapsed time.
        if (/^not ok \d+ - /.test(line)) failedTopLevel++;
        if (/^(not )?ok \d+ - /.test(line)) {
          mark = `${label}: ${line.startsWith('not') ? 'FAILED' : 'passed'} ${line.replace(/^(not )?ok \d+ - /, '')}`;
        } else if (mark !== null && line === '  ...') {
          say(mark);
          mark = null;
        }
      });
    echo(child.stdout, process.stdout);
    echo(child.stderr, process.stderr);
    child.on('close', (code, signal) => {
      currentChild = null;
      resolve({ code: code ?? (signal ? 1 : 0), counts: reconcileCounts(counts, failedTopLevel, code ?? (signal ? 1 : 0)) });
    });
  });
}

/**
 * Makes the counts agree with the exit code: `# fail` counts only failed tests, so a failed file or
 * suite (top-level `not ok`) with no failed test in it is counted too, and a run that exits non-zero
 * with nothing counted as failed (a crash) counts one failure.
 */
function reconcileCounts(counts, failedTopLevel, code) {
  const c = { ...counts };
  const failed = (c.fail ?? 0) + (c.cancelled ?? 0);
  if (failedTopLevel > failed) c.fail = (c.fail ?? 0) + (failedTopLevel - failed);
  if (code !== 0 && (c.fail ?? 0) + (c.cancelled ?? 0) === 0) c.fail = 1;
  return c;
}

// ---- Main --------------------------------------------------------------------------------------

async function main() {
  const argv = process.argv.slice(2);
  const only = argv.includes('--unit') ? 'unit' : argv.includes('--integration') ? 'integration' : 'all';
  const filters = argv.filter((a) => !a.startsWith('--'));

  const unitFiles = only === 'integration' ? [] : findTestFiles('.spec.js', filters);
  const intFiles = only === 'unit' ? [] : findTestFiles('.int-spec.js', filters);
  say(`found ${unitFiles.length} unit test file(s) and ${intFiles.length} integration test file(s)`);
  if (unitFiles.length + intFiles.length === 0) {
    say('no compiled tests found: run `npm run build` first');
    return 1;
  }

  // kafkajs 2.2.4 calls setTimeout with a negative delay on Node >= 23 (harmless: Node uses 1 ms).
  // Keep that one known warning out of every test's output.
  const env = { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --disable-warning=TimeoutNegativeWarning`.trim() };

  // Start the servers the tests need while the unit tests run.
  if (intFiles.length > 0) {
    const plan = await planServers();
    if (plan.containers.length > 0 || plan.local.includes('kafka')) {
      serversPromise = startServers(plan);
      serversPromise.catch(() => undefined); // awaited below
    }
  }

  const results = [];
  if (unitFiles.length > 0) {
    say(`unit tests: ${unitFiles.length} file(s)`);
    results.push({ label: 'unit', ...(await runNodeTest('unit', unitFiles, ['--test-timeout=60000'], env)) });
  }

  if (intFiles.length > 0 && !interrupted) {
    let ready = true;
    if (serversPromise) {
      try {
        const s = await serversPromise;
        Object.assign(env, s.env);
      } catch (err) {
        ready = false;
        if (interrupted) return 1; // the signal handler reports and exits
        process.stderr.write(`[test-runner] could not start the servers for the integration tests:\n${err && err.message ? err.message : err}\n`);
        results.push({ label: 'integration', code: 1, counts: { tests: intFiles.length, fail: intFiles.length } });
      }
    }
    if (ready && !interrupted) {
      const { redactPassword } = testing('test-servers.js');
      const pg = env.MFSIM_TEST_DATABASE_URL ? redactPassword(env.MFSIM_TEST_DATABASE_URL) : 'the default';
      const redis = env.MFSIM_TEST_REDIS_URL || 'the default';
      say(`integration tests: ${intFiles.length} file(s), one at a time, Kafka at ${env.MFSIM_TEST_KAFKA_BROKERS}, PostgreSQL ${pg}, Redis ${redis}`);
      results.push({
        label: 'integration',
        ...(await runNodeTest('integration', intFiles, ['--test-concurrency=1', '--test-timeout=180000'], env)),
      });
    }
  }

  await runCleanup();
  if (interrupted) return 1;

  const total = { pass: 0, fail: 0, skipped: 0 };
  let failed = false;
  for (const r of results) {
    const c = r.counts;
    say(`${r.label}: ${c.pass ?? 0} passed, ${c.fail ?? 0} failed, ${c.cancelled ?? 0} cancelled, ${c.skipped ?? 0} skipped (exit ${r.code})`);
    total.pass += c.pass ?? 0;
    total.fail += (c.fail ?? 0) + (c.cancelled ?? 0);
    total.skipped += (c.skipped ?? 0) + (c.todo ?? 0);
    if (r.code !== 0 || (c.fail ?? 0) > 0 || (c.cancelled ?? 0) > 0) failed = true;
  }
  if (interrupted) failed = true;
  if (failed && total.fail === 0) total.fail = 1; // interrupted: nothing else counted a failure
  process.stdout.write(`tests: ${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped\n`);
  return failed ? 1 : 0;
}

// ---- Cleanup and signals -----------------------------------------------------------------------

const cleanup = [];
let interrupted = false;
/** Aborts a server start in progress. */
const startAbort = new AbortController();
/** The server start in progress or done (null when none was needed). */
let serversPromise = null;

async function runCleanup() {
  while (cleanup.length > 0) {
    const fn = cleanup.pop();
    try {
      await fn();
    } catch (err) {
      process.stderr.write(`[test-runner] cleanup failed: ${err && err.message ? err.message : err}\n`);
    }
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    if (interrupted) return;
    interrupted = true;
    say(`${sig}: stopping`);
    if (currentChild && currentChild.exitCode === null) currentChild.kill('SIGTERM');
    startAbort.abort();
    Promise.resolve(serversPromise)
      .catch(() => undefined)
      .then(runCleanup)
      .finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  });
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  async (err) => {
    process.stderr.write(`[test-runner] ${err && err.stack ? err.stack : err}\n`);
    await runCleanup();
    process.exitCode = 1;
  },
);
