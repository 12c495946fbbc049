/**
 * Starts a real single-node Apache Kafka broker (KRaft, combined broker+controller) as a child
 * JVM, from the jars that deploy/kafka/fetch.sh puts in deploy/kafka/target/libs.
 *
 * Used by the test runner (tools/test-runner), .ci/run and `mfsim stack up`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

import { Kafka, logLevel } from 'kafkajs';

import { assertPortsFree, canConnect, findFreePorts, isProcessAlive, processCommandLine, sleep, tailFile, terminateProcess } from './processes';

/** The repository root (this file runs from libs/stack/dist). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
/** deploy/kafka: pom.xml, VERSION, fetch.sh, log4j2.properties. */
export const KAFKA_DEPLOY_DIR = path.join(REPO_ROOT, 'deploy', 'kafka');

/** A marker file that lets startKafkaBroker wipe a data dir it made before. */
const DATA_DIR_MARKER = '.mfsim-kafka-broker';

export interface StartKafkaBrokerOptions {
  /** Client (PLAINTEXT) port on 127.0.0.1. Default: a free port. */
  port?: number;
  /** Controller port on 127.0.0.1. Default: port + 1 if free, else a free port. */
  controllerPort?: number;
  /**
   * Where the broker keeps server.properties, its data and its logs. It is emptied first (only if
   * it is empty or a broker data dir made by this module). Default: a new temp dir, removed by
   * stop() unless keepDataDir.
   */
  dataDir?: string;
  /** Maximum Java heap in MiB. Default 384. */
  heapMb?: number;
  /**
   * JIT with C1 only (-XX:TieredStopAtLevel=1): on 2 cores the broker is ready sooner and the JIT
   * takes less CPU from the tests; peak throughput is lower. Default true; set false for long
   * throughput benchmarks.
   */
  fastStart?: boolean;
  /** Receives each line the broker writes, while it runs. */
  log?: (line: string) => void;
  /** Where the broker's stdout+stderr go. Default <dataDir>/logs/broker.out.log. */
  logFile?: string;
  /** How long to wait for the broker to answer. Default 90 s. */
  readyTimeoutMs?: number;
  /**
   * Start the JVM in its own session so it outlives this process (`mfsim stack up` does this).
   * Default false.
   */
  detached?: boolean;
  /** Keep a temp data dir after stop(). Default false. */
  keepDataDir?: boolean;
  /** Aborting stops the broker while it starts (startKafkaBroker then rejects). */
  signal?: AbortSignal;
  /**
   * More PLAINTEXT listeners on 127.0.0.1, each advertised at another port (a proxy's, so that a
   * client that bootstraps through the proxy keeps going through it). Names: A-Z, 0-9, _.
   */
  extraListeners?: readonly { name: string; port: number; advertisedPort: number }[];
}

export interface KafkaBrokerHandle {
  /** ["127.0.0.1:<port>"] */
  brokers: string[];
  pid: number;
  /** The broker's stdout+stderr (console log lines and any JVM error). */
  logFile: string;
  dataDir: string;
  port: number;
  controllerPort: number;
  /** Milliseconds from spawning the JVM to the broker answering describeCluster and having a group coordinator. */
  startupMs: number;
  /** SIGTERM, then SIGKILL after a grace period. Only this broker's pid. Safe to call twice. */
  stop(): Promise<void>;
}

/** An Error whose message is meant to be shown to a person as is (no stack trace needed). */
export class KafkaBrokerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KafkaBrokerError';
  }
}

/** The Kafka version in deploy/kafka/VERSION (the one place it is written). */
export function kafkaVersion(): string {
  return readFileSync(path.join(KAFKA_DEPLOY_DIR, 'VERSION'), 'utf8').trim();
}

/** deploy/kafka/target/libs */
export function kafkaLibsDir(): string {
  return path.join(KAFKA_DEPLOY_DIR, 'target', 'libs');
}

/** True when the jars of the version in VERSION are present. */
export function kafkaJarsPresent(): boolean {
  return existsSync(path.join(kafkaLibsDir(), `kafka_2.13-${kafkaVersion()}.jar`));
}

/**
 * Makes sure the broker jars are there, running deploy/kafka/fetch.sh (Maven) if they are not.
 * Returns the libs dir. Throws a KafkaBrokerError if fetching fails.
 */
export function ensureKafkaJars(opts: { log?: (line: string) => void } = {}): string {
  if (kafkaJarsPresent()) return kafkaLibsDir();
  const fetch = path.join(KAFKA_DEPLOY_DIR, 'fetch.sh');
  opts.log?.(`Kafka ${kafkaVersion()} jars missing: running deploy/kafka/fetch.sh (Maven)...`);
  const result = spawnSync('bash', [fetch], { cwd: REPO_ROOT, encoding: 'utf8' });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.status !== 0 || !kafkaJarsPresent()) {
    const last = output.split('\n').slice(-5).join(' | ');
    throw new KafkaBrokerError(`could not fetch the Kafka jars (deploy/kafka/fetch.sh exited ${result.status ?? result.signal}): ${last}`);
  }
  if (output) output.split('\n').forEach((line) => opts.log?.(line));
  return kafkaLibsDir();
}

function findJava(): string {
  const candidates = [
    ...(process.env['JAVA_HOME'] ? [path.join(process.env['JAVA_HOME'], 'bin', 'java')] : []),
    ...(process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'java')),
  ];
  const java = candidates.find((c) => existsSync(c));
  if (!java) throw new KafkaBrokerError('java not found: Kafka 4.x needs Java 17+ (set JAVA_HOME or put java on PATH)');
  return java;
}

/** Runs a command to completion without blocking the event loop; output goes to `logFile`. */
function runLogged(cmd: string, args: string[], logFile: string, timeoutMs: number): Promise<number | string> {
  return new Promise((resolve) => {
    const out = openSync(logFile, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', out, out], timeout: timeoutMs });
    closeSync(out);
    child.once('error', (err) => resolve(err.message));
    child.once('exit', (code, sig) => resolve(code ?? sig ?? 'unknown'));
  });
}

/** A random Kafka cluster id: 16 bytes, base64url, 22 chars, not starting with '-'. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/**
 * The settings of every single-node test broker, besides its listeners and data dir: this JVM
 * broker's server.properties and the container broker's KAFKA_* variables (test-containers.ts).
 */
export const SINGLE_NODE_BROKER_SETTINGS: Readonly<Record<string, string>> = {
  // One node: every internal topic must have replication factor 1.
  'num.partitions': '1',
  'default.replication.factor': '1',
  'min.insync.replicas': '1',
  'offsets.topic.replication.factor': '1',
  'offsets.topic.num.partitions': '1',
  'transaction.state.log.replication.factor': '1',
  'transaction.state.log.min.isr': '1',
  'transaction.state.log.num.partitions': '1',
  'share.coordinator.state.topic.replication.factor': '1',
  'share.coordinator.state.topic.min.isr': '1',
  'share.coordinator.state.topic.num.partitions': '1',
  // Tests and the stack join groups right away; topics are created on purpose only.
  'group.initial.rebalance.delay.ms': '0',
  'auto.create.topics.enable': 'false',
  'delete.topic.enable': 'true',
  // 2 cores: fewer threads than the defaults (3 network, 8 io).
  'num.network.threads': '2',
  'num.io.threads': '4',
  'background.threads': '4',
  'num.recovery.threads.per.data.dir': '1',
};

function serverProperties(p: { port: number; controllerPort: number; logDirs: string; extraListeners?: StartKafkaBrokerOptions['extraListeners'] }): string {
  const extra = p.extraListeners ?? [];
  for (const l of extra) if (!/^[A-Z][A-Z0-9_]*$/.test(l.name) || ['PLAINTEXT', 'CONTROLLER'].includes(l.name)) throw new KafkaBrokerError(`Kafka listener name ${l.name}: expected A-Z, 0-9, _ (not PLAINTEXT or CONTROLLER)`);
  return [
    '# Written by libs/stack/src/kafka-broker.ts: single-node KRaft, broker+controller.',
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${p.controllerPort}`,
    'controller.listener.names=CONTROLLER',
    `listeners=${[`PLAINTEXT://127.0.0.1:${p.port}`, `CONTROLLER://127.0.0.1:${p.controllerPort}`, ...extra.map((l) => `${l.name}://127.0.0.1:${l.port}`)].join(',')}`,
    `advertised.listeners=${[`PLAINTEXT://127.0.0.1:${p.port}`, ...extra.map((l) => `${l.name}://127.0.0.1:${l.advertisedPort}`)].join(',')}`,
    `listener.security.protocol.map=${['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT', ...extra.map((l) => `${l.name}:PLAINTEXT`)].join(',')}`,
    'inter.broker.listener.name=PLAINTEXT',
    `log.dirs=${p.logDirs}`,
    ...Object.entries(SINGLE_NODE_BROKER_SETTINGS).map(([key, value]) => `${key}=${value}`),
    '',
  ].join('\n');
}

/** Empties (or creates) dataDir, refusing to touch a non-empty dir this module did not make. */
function prepareDataDir(dataDir: string): void {
  if (existsSync(dataDir)) {
    if (!statSync(dataDir).isDirectory()) throw new KafkaBrokerError(`Kafka data dir ${dataDir} is not a directory`);
    const entries = readdirSync(dataDir);
    if (entries.length > 0 && !entries.includes(DATA_DIR_MARKER)) {
      throw new KafkaBrokerError(`Kafka data dir ${dataDir} is not empty and was not made by the mfsim broker launcher; refusing to wipe it`);
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
  mkdirSync(path.join(dataDir, 'data'), { recursive: true });
  mkdirSync(path.join(dataDir, 'logs'), { recursive: true });
  writeFileSync(path.join(dataDir, DATA_DIR_MARKER), 'made by libs/stack/src/kafka-broker.ts; wiped on the next start\n');
}

/** Starts a broker and waits until it answers. See StartKafkaBrokerOptions. */
export async function startKafkaBroker(opts: StartKafkaBrokerOptions = {}): Promise<KafkaBrokerHandle> {
  if (!kafkaJarsPresent()) {
    throw new KafkaBrokerError(`Kafka ${kafkaVersion()} jars are missing in ${path.relative(process.cwd(), kafkaLibsDir()) || kafkaLibsDir()}: run deploy/kafka/fetch.sh`);
  }
  const java = findJava();
  const { port, controllerPort } = await choosePorts(opts);
  await assertPortsFree([
    { port, what: 'Kafka' },
    { port: controllerPort, what: 'Kafka controller' },
  ]);

  const tempDir = opts.dataDir === undefined;
  const dataDir = path.resolve(opts.dataDir ?? mkdtempSync(path.join(tmpdir(), 'mfsim-kafka-')));
  prepareDataDir(dataDir);
  const logsDir = path.join(dataDir, 'logs');
  const logFile = path.resolve(opts.logFile ?? path.join(logsDir, 'broker.out.log'));
  mkdirSync(path.dirname(logFile), { recursive: true });
  const propsFile = path.join(dataDir, 'server.properties');
  writeFileSync(propsFile, serverProperties({ port, controllerPort, logDirs: path.join(dataDir, 'data'), ...(opts.extraListeners ? { extraListeners: opts.extraListeners } : {}) }));

  const classpath = `${kafkaLibsDir()}${path.sep}*`;
  const log4j = `-Dlog4j2.configurationFile=${path.join(KAFKA_DEPLOY_DIR, 'log4j2.properties')}`;
  const logsDirProp = `-Dkafka.logs.dir=${logsDir}`;

  // 1. Format the storage (a separate JVM: StorageTool calls System.exit).
  const clusterId = newClusterId();
  writeFileSync(logFile, `$ kafka.tools.StorageTool format --cluster-id=${clusterId}\n`);
  const formatArgs = ['-Xmx128m', '-XX:TieredStopAtLevel=1', log4j, logsDirProp, '-cp', classpath, 'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '--config', propsFile];
  const formatExit = await runLogged(java, formatArgs, logFile, 60_000);
  if (formatExit !== 0) {
    throw new KafkaBrokerError(`Kafka storage format failed (exit ${formatExit}). Log ${logFile}:\n${tailFile(logFile, 30)}`);
  }

  // 2. Start the broker.
  const heapMb = opts.heapMb ?? 384;
  const jvmArgs = [
    `-Xmx${heapMb}m`,
    `-Xms${Math.min(64, heapMb)}m`,
    ...(opts.fastStart === false ? [] : ['-XX:TieredStopAtLevel=1']),
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent',
    '-Djava.awt.headless=true',
    log4j,
    logsDirProp,
    '-cp',
    classpath,
    'kafka.Kafka',
    propsFile,
  ];
  const out = openSync(logFile, 'a');
  const spawnedAt = Date.now();
  const child = spawn(java, jvmArgs, { cwd: dataDir, stdio: ['ignore', out, out], detached: opts.detached ?? false });
  closeSync(out);
  if (child.pid === undefined) {
    throw new KafkaBrokerError(`could not start ${java}`);
  }
  const pid = child.pid;
  if (opts.detached) child.unref();
  let exitCode: number | string | undefined;
  child.once('exit', (code, sig) => {
    exitCode = code ?? sig ?? 'unknown';
  });

  const stopTail = opts.log ? followFile(logFile, opts.log) : () => undefined;
  let stopped = false;
  const shutdown = async (removeTempDir: boolean): Promise<void> => {
    if (stopped) return;
    stopped = true;
    try {
      if (exitCode === undefined) await terminateProcess(pid, { graceMs: 15_000 });
    } finally {
      stopTail();
      if (removeTempDir && tempDir && !opts.keepDataDir) rmSync(dataDir, { recursive: true, force: true });
    }
  };

  const brokers = [`127.0.0.1:${port}`];
  try {
    await waitUntilReady({ host: '127.0.0.1', port, timeoutMs: opts.readyTimeoutMs ?? 90_000, hasExited: () => exitCode, signal: opts.signal });
  } catch (err) {
    await shutdown(false).catch(() => undefined);
    // The data dir (with its logs) is kept for a look.
    const tail = tailFile(logFile, 40);
    throw new KafkaBrokerError(`${(err as Error).message}. Broker log ${logFile}, last lines:\n${tail}`);
  }
  const stop = () => shutdown(true);
  return { brokers, pid, logFile, dataDir, port, controllerPort, startupMs: Date.now() - spawnedAt, stop };
}

async function choosePorts(opts: StartKafkaBrokerOptions): Promise<{ port: number; controllerPort: number }> {
  if (opts.port !== undefined && opts.controllerPort !== undefined) return { port: opts.port, controllerPort: opts.controllerPort };
  if (opts.port !== undefined) {
    const [controllerPort] = await findFreePorts(1);
    return { port: opts.port, controllerPort: controllerPort! };
  }
  const [port, controllerPort] = await findFreePorts(2);
  return { port: port!, controllerPort: opts.controllerPort ?? controllerPort! };
}

/**
 * Waits until the broker at host:port answers describeCluster and has a group coordinator (the
 * same readiness as startKafkaBroker's). `hasExited` returns an exit code once the broker is gone.
 */
export function waitForKafkaReady(p: {
  host: string;
  port: number;
  timeoutMs: number;
  hasExited?: () => number | string | undefined;
  signal?: AbortSignal;
}): Promise<void> {
  return waitUntilReady({ ...p, hasExited: p.hasExited ?? (() => undefined), signal: p.signal });
}

async function waitUntilReady(p: {
  host: string;
  port: number;
  timeoutMs: number;
  hasExited: () => number | string | undefined;
  signal: AbortSignal | undefined;
}): Promise<void> {
  const deadline = Date.now() + p.timeoutMs;
  const check = (what: string) => {
    if (p.signal?.aborted) throw new Error('Kafka broker start aborted');
    const code = p.hasExited();
    if (code !== undefined) throw new Error(`Kafka broker exited (${code}) before it was ready`);
    if (Date.now() > deadline) throw new Error(`Kafka broker not ready after ${Math.round(p.timeoutMs / 1000)} s (${what})`);
  };
  // TCP first: cheap, and keeps kafkajs from spinning on connection refused.
  while (!(await canConnect(p.port, p.host, 500))) {
    check(`port ${p.port} not accepting connections`);
    await sleep(200);
  }
  const admin = new Kafka({ clientId: 'mfsim-broker-probe', brokers: [`${p.host}:${p.port}`], logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 2_000, requestTimeout: 5_000 }).admin();
  let lastError = 'no answer yet';
  try {
    for (;;) {
      check(`describeCluster: ${lastError}`);
      try {
        await admin.connect();
        const cluster = await admin.describeCluster();
        if (cluster.brokers.length === 0 || cluster.controller === null) {
          lastError = 'no controller yet';
        } else {
          // Finding a group coordinator makes the broker create __consumer_offsets; wait for it
          // so the first consumer group does not start with "group coordinator is not available".
          await admin.describeGroups(['mfsim-broker-readiness-probe']);
          return;
        }
      } catch (err) {
        lastError = (err as Error).message;
      }
      await sleep(250);
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Calls `onLine` for each new complete line appended to `file`; returns a stop function. */
function followFile(file: string, onLine: (line: string) => void): () => void {
  let offset = 0;
  let partial = '';
  const poll = () => {
    let fd: number | undefined;
    try {
      fd = openSync(file, 'r');
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const n = readSync(fd, buf, 0, buf.length, offset);
        if (n <= 0) break;
        offset += n;
        partial += buf.subarray(0, n).toString('utf8');
        const lines = partial.split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) onLine(line);
      }
    } catch {
      // not there yet
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  };
  const timer = setInterval(poll, 200);
  timer.unref();
  return () => {
    clearInterval(timer);
    poll();
  };
}

/** Whether a pid recorded earlier still runs a Kafka broker (guards against a recycled pid). */
export function isKafkaBrokerProcess(pid: number): boolean {
  return isProcessAlive(pid) && (processCommandLine(pid) ?? '').includes('kafka.Kafka');
}
