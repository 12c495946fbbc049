#!/usr/bin/env node
// A Kafka broker for tests, from the shell (libs/stack/dist/kafka-broker.js; run `npm run build` first).
//
//   node tools/test-runner/test-broker.js hold [--env-out FILE] [--port P --controller-port C]
//       Fetches the jars if needed, starts a broker on free ports (20000-32000, away from the
//       stack's 19092/19093) and stays in the foreground until SIGINT/SIGTERM, then stops it.
//       Once the broker is ready, FILE gets `export MFSIM_TEST_KAFKA_BROKERS=...` (for `source`).
//       Exits 1 if the broker cannot start or dies.
//
//   node tools/test-runner/test-broker.js measure [--runs N] [--heap-mb M] [--no-fast-start]
//       Starts and stops a broker N times (default 3) and prints the start time and RSS.
//       --no-fast-start: C1+C2 JIT instead of C1 only (see fastStart in kafka-broker.ts).
'use strict';

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const broker = require(path.join(ROOT, 'libs', 'stack', 'dist', 'kafka-broker.js'));
const { isProcessAlive, sleep } = require(path.join(ROOT, 'libs', 'stack', 'dist', 'processes.js'));

const say = (line) => process.stdout.write(`[test-broker] ${line}\n`);

function option(args, name) {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

/** Resident set size of `pid` in MiB (from /proc). */
function rssMb(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]);
  return kb / 1024;
}

async function hold(args) {
  const envFile = option(args, '--env-out');
  const port = option(args, '--port');
  const controllerPort = option(args, '--controller-port');
  broker.ensureKafkaJars({ log: say });

  const abort = new AbortController();
  let handle = null;
  let stopping = false;
  const stop = async (code) => {
    if (stopping) return;
    stopping = true;
    abort.abort();
    if (handle) {
      say(`stopping broker pid ${handle.pid}`);
      await handle.stop();
    }
    if (envFile) fs.rmSync(envFile, { force: true });
    process.exit(code);
  };
  process.on('SIGINT', () => stop(130));
  process.on('SIGTERM', () => stop(143));

  const t0 = Date.now();
  handle = await broker.startKafkaBroker({
    port: port ? Number(port) : undefined,
    controllerPort: controllerPort ? Number(controllerPort) : undefined,
    readyTimeoutMs: 120_000,
    signal: abort.signal,
  });
  const brokers = handle.brokers.join(',');
  say(`Kafka ${broker.kafkaVersion()} ready at ${brokers} (pid ${handle.pid}) in ${((Date.now() - t0) / 1000).toFixed(1)}s; log ${handle.logFile}`);
  if (envFile) {
    const tmp = `${envFile}.tmp`;
    fs.writeFileSync(tmp, `export MFSIM_TEST_KAFKA_BROKERS=${brokers}\n`);
    fs.renameSync(tmp, envFile);
  }
  // Stay up; notice if the broker dies under us.
  for (;;) {
    await sleep(1000);
    if (stopping) return;
    if (!isProcessAlive(handle.pid)) {
      process.stderr.write(`[test-broker] broker pid ${handle.pid} died; log ${handle.logFile}\n`);
      handle = null;
      await stop(1);
    }
  }
}

async function measure(args) {
  const runs = Number(option(args, '--runs') ?? 3);
  const heapMb = Number(option(args, '--heap-mb') ?? 384);
  const fastStart = !args.includes('--no-fast-start');
  broker.ensureKafkaJars({ log: say });
  const java = (spawnSync('java', ['-version'], { encoding: 'utf8' }).stderr || '').split('\n')[0];
  say(`Kafka ${broker.kafkaVersion()}, -Xmx${heapMb}m, fastStart ${fastStart}, ${runs} run(s), ${java}`);
  const rows = [];
  for (let i = 1; i <= runs; i++) {
    const t0 = Date.now();
    const h = await broker.startKafkaBroker({ heapMb, fastStart });
    const total = Date.now() - t0;
    const rssReady = rssMb(h.pid);
    // A little work: one topic, 1000 messages, one consumer group.
    const { Kafka, logLevel, Partitioners } = require('kafkajs');
    const kafka = new Kafka({ clientId: 'measure', brokers: h.brokers, logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: 'measure', numPartitions: 3 }], waitForLeaders: true });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    for (let b = 0; b < 10; b++) {
      await producer.send({ topic: 'measure', messages: Array.from({ length: 100 }, (_, k) => ({ key: String(k), value: 'x'.repeat(200) })) });
    }
    const consumer = kafka.consumer({ groupId: 'measure', maxWaitTimeInMs: 250 });
    await consumer.connect();
    await consumer.subscribe({ topic: 'measure', fromBeginning: true });
    let seen = 0;
    await consumer.run({ eachMessage: async () => void seen++ });
    while (seen < 1000) await sleep(50);
    await consumer.disconnect();
    await producer.disconnect();
    await admin.disconnect();
    const rssWorked = rssMb(h.pid);
    const s0 = Date.now();
    await h.stop();
    const stopMs = Date.now() - s0;
    rows.push({ run: i, jvmToReadyMs: h.startupMs, formatPlusReadyMs: total, rssReadyMb: Math.round(rssReady), rssAfterWorkMb: Math.round(rssWorked), stopMs });
    say(`run ${i}: ${JSON.stringify(rows[rows.length - 1])}`);
  }
  const median = (key) => rows.map((r) => r[key]).sort((a, b) => a - b)[Math.floor(rows.length / 2)];
  say(
    `median: JVM start→ready ${median('jvmToReadyMs')} ms, with storage format ${median('formatPlusReadyMs')} ms, ` +
      `RSS ${median('rssReadyMb')} MiB ready / ${median('rssAfterWorkMb')} MiB after 1000 msgs, stop ${median('stopMs')} ms`,
  );
}

const [command, ...rest] = process.argv.slice(2);
const commands = { hold, measure };
if (!commands[command]) {
  process.stderr.write('usage: test-broker.js hold [--env-out FILE] [--port P --controller-port C] | measure [--runs N] [--heap-mb M] [--no-fast-start]\n');
  process.exit(2);
}
commands[command](rest).catch((err) => {
  process.stderr.write(`[test-broker] ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
