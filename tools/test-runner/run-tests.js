#!/usr/bin/env node
// Runs every compiled test in the workspace with Node's own test runner:
//   1. unit tests         libs|services|tools/*/dist/**/*.spec.js
//   2. integration tests  libs|services|tools/*/dist/**/*.int-spec.js, one file at a time
//
// Integration tests need real servers (docs/conventions.md, "Tests"). PostgreSQL and Redis come
// from MFSIM_TEST_DATABASE_URL / MFSIM_TEST_REDIS_URL or the local defaults. Kafka comes from
// MFSIM_TEST_KAFKA_BROKERS; when that is unset, this script fetches the broker jars if needed,
// starts its own broker on free ports (libs/testing/dist/kafka-broker.js), passes its address to
// the tests and stops it at the end (also on SIGINT/SIGTERM).
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
// Each provider can supply a Kafka broker for the integration tests. The first one available wins.
// Extension point: where a Docker engine exists, a testcontainers-backed provider (Kafka, and
// PostgreSQL/Redis too) would go before `localJvmKafka` in TEST_SERVER_PROVIDERS. None is added yet.

/** Starts a broker JVM from deploy/kafka/target/libs (fetched with Maven if missing). */
const localJvmKafka = {
  name: 'local JVM broker (deploy/kafka)',
  isAvailable: () => true,
  prepare() {
    const broker = require(path.join(ROOT, 'libs', 'testing', 'dist', 'kafka-broker.js'));
    broker.ensureKafkaJars({ log: (line) => say(`kafka: ${line}`) });
  },
  async start(signal) {
    const broker = require(path.join(ROOT, 'libs', 'testing', 'dist', 'kafka-broker.js'));
    const handle = await broker.startKafkaBroker({
      heapMb: Number(process.env.MFSIM_TEST_KAFKA_HEAP_MB) || undefined,
      readyTimeoutMs: 120_000,
      signal,
    });
    return {
      env: { MFSIM_TEST_KAFKA_BROKERS: handle.brokers.join(',') },
      describe: `Kafka ${broker.kafkaVersion()} at ${handle.brokers.join(',')} (pid ${handle.pid}, ready in ${(handle.startupMs / 1000).toFixed(1)}s, log ${handle.logFile})`,
      stop: () => handle.stop(),
    };
  },
};

const TEST_SERVER_PROVIDERS = [localJvmKafka];

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
    let mark = null;
    const echo = (stream, out) =>
      readline.createInterface({ input: stream }).on('line', (line) => {
        out.write(`${line}\n`);
        const m = /^# (\w+) (\d+)/.exec(line);
        if (m && SUMMARY_KEYS.includes(m[1])) counts[m[1]] = Number(m[2]);
        // A top-level test (a file's suite or test) finished: after its TAP diagnostics block,
        // print a progress mark with the elapsed time.
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
      resolve({ code: code ?? (signal ? 1 : 0), counts });
    });
  });
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

  // Start the broker while the unit tests run.
  let servers = null;
  if (intFiles.length > 0) {
    if (process.env.MFSIM_TEST_KAFKA_BROKERS) {
      say(`kafka: using MFSIM_TEST_KAFKA_BROKERS=${process.env.MFSIM_TEST_KAFKA_BROKERS}`);
    } else {
      const provider = TEST_SERVER_PROVIDERS.find((p) => p.isAvailable());
      say(`kafka: MFSIM_TEST_KAFKA_BROKERS is unset; starting a ${provider.name}`);
      serversPromise = (async () => {
        provider.prepare();
        servers = await provider.start(startAbort.signal);
        cleanup.push(() => servers.stop());
        say(`kafka: ready: ${servers.describe}`);
        return servers;
      })();
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
        process.stderr.write(`[test-runner] could not start Kafka for the integration tests:\n${err && err.message ? err.message : err}\n`);
        results.push({ label: 'integration', code: 1, counts: { tests: intFiles.length, fail: intFiles.length } });
      }
    }
    if (ready && !interrupted) {
      say(`integration tests: ${intFiles.length} file(s), one at a time, Kafka at ${env.MFSIM_TEST_KAFKA_BROKERS}`);
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
  if (failed && total.fail === 0) total.fail = 1; // a child crashed without reporting a failure
  process.stdout.write(`tests: ${total.pass} passed, ${total.fail} failed, ${total.skipped} skipped\n`);
  return failed ? 1 : 0;
}

// ---- Cleanup and signals -----------------------------------------------------------------------

const cleanup = [];
let interrupted = false;
/** Aborts a broker start in progress. */
const startAbort = new AbortController();
/** The broker start in progress or done (null when none was needed). */
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
