/**
 * `mfsim stack up` and `mfsim stack down`.
 *
 * up starts, in this order: Kafka (in the background, it is the slowest), PostgreSQL (only if it
 * does not answer and is installed here), the stack's own redis-server (unless REDIS_URL or
 * --redis-url names one), the mfsim database and its migrations, the topics, then the service
 * processes (one per service, or the replicas asked for), and waits for every /health. Whatever it started is recorded in
 * .mfsim/stack/state.json and the pid files as soon as it starts, so that down (or up's own
 * rollback after a failure) stops exactly that.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import {
  assertPortsFree,
  databaseName,
  ensureDatabase,
  isKafkaBrokerProcess,
  isProcessAlive,
  KafkaBrokerHandle,
  kafkaVersion,
  PortInUseError,
  tailFile,
  terminateProcess,
  waitForHealthy,
  ensureZipkinJar,
  isZipkinServerProcess,
  startZipkinServer,
  stopZipkinServer,
  zipkinVersion,
  type ZipkinServerHandle,
} from '@mfsim/stack';

import { SERVICES, ServiceConfig, ServiceName, StackConfig, StackError } from './config';
import { adminUrl, ensurePostgres, ensureRedis, stopPostgres, stopRedis } from './infra';
import { applyMigrations, createStackTopics, ensureJars, loadAllTopics, startStackKafka } from './kafka';
import { kafkaEdgeListeners, PROXY_MAIN, proxyEdges, proxyPorts, startProxy } from './proxy';
import { startOwnPostgres, stopOwnPostgres } from './own-postgres';
import { startService } from './services';
import { readPidFile, readState, removeFile, StackState, writePidFile, writeState } from './state';

export type Say = (line: string) => void;

/** "  kafka         " — component names padded for a readable column. */
const label = (name: string) => name.padEnd(14);

/** The pids in `state` that still run. */
export function livePids(state: StackState): { name: string; pid: number }[] {
  const out: { name: string; pid: number }[] = [];
  for (const [name, rec] of Object.entries(state.services)) if (rec && isProcessAlive(rec.pid)) out.push({ name, pid: rec.pid });
  if (state.kafka && isProcessAlive(state.kafka.pid)) out.push({ name: 'kafka', pid: state.kafka.pid });
  if (state.redis && isProcessAlive(state.redis.pid)) out.push({ name: 'redis', pid: state.redis.pid });
  if (state.zipkin && isProcessAlive(state.zipkin.pid)) out.push({ name: 'zipkin', pid: state.zipkin.pid });
  if (state.proxy && isProcessAlive(state.proxy.pid)) out.push({ name: 'proxy', pid: state.proxy.pid });
  if (state.ownPostgres && isProcessAlive(state.ownPostgres.pid)) out.push({ name: 'postgres', pid: state.ownPostgres.pid });
  return out;
}

/**
 * The state to stop from: state.json, or, when it is missing, what the pid files say (an `up` that
 * crashed before writing its state still leaves pid files).
 */
export function stateForDown(config: StackConfig): StackState | undefined {
  const state = readState(config);
  if (state) return state;
  const recovered: StackState = { startedAt: 'unknown', services: {} };
  let any = false;
  const kafkaPid = readPidFile(config.kafka.pidFile);
  if (kafkaPid !== undefined) {
    recovered.kafka = { pid: kafkaPid, port: config.kafka.port, controllerPort: config.kafka.controllerPort, logFile: config.kafka.logFile, dataDir: config.kafka.dataDir };
    any = true;
  }
  if (config.ownRedis) {
    const pid = readPidFile(config.ownRedis.pidFile);
    if (pid !== undefined) {
      recovered.redis = { startedByUs: true, pid, port: config.ownRedis.port, pidFile: config.ownRedis.pidFile };
      any = true;
    }
  }
  if (config.zipkin) {
    const pid = readPidFile(config.zipkin.pidFile);
    if (pid !== undefined) {
      recovered.zipkin = { pid, port: config.zipkin.port, logFile: config.zipkin.logFile, traceUrl: '', spansEndpoint: '' };
      any = true;
    }
  }
  const proxyPid = readPidFile(config.proxy.pidFile);
  if (proxyPid !== undefined) {
    recovered.proxy = { pid: proxyPid, controlPort: config.proxy.controlPort, logFile: config.proxy.logFile, pidFile: config.proxy.pidFile, edges: {} };
    any = true;
  }
  for (const f of servicePidFiles(config)) {
    const pid = readPidFile(path.join(config.stackDir, f.file));
    if (pid !== undefined) {
      const mainJs = path.join(config.root, 'services', f.name, 'dist', 'main.js');
      recovered.services[f.id] = { pid, port: 0, logFile: path.join(config.stackDir, `${f.id}.log`), mainJs, name: f.name };
      any = true;
    }
  }
  return any ? recovered : undefined;
}

/** The `<service>.pid` and `<service>-<replica>.pid` files in .mfsim/stack, whatever the replicas are now. */
function servicePidFiles(config: StackConfig): { file: string; id: string; name: ServiceName }[] {
  let files: string[];
  try {
    files = readdirSync(config.stackDir);
  } catch {
    return [];
  }
  return files.flatMap((file) => {
    const m = /^(.+?)(-\d+)?\.pid$/.exec(file);
    const name = SERVICES.find((s) => s.name === m?.[1])?.name;
    return m && name ? [{ file, id: `${m[1]}${m[2] ?? ''}`, name }] : [];
  });
}

/**
 * Stops what `state` records, services first, then Kafka, then Redis/PostgreSQL if up started
 * them; removes the pid files and the state file. Never touches anything else.
 */
export async function stopRecorded(config: StackConfig, state: StackState, say: Say): Promise<void> {
  await Promise.all(
    Object.entries(state.services).map(async ([id, rec]) => {
      const result = await terminateProcess(rec.pid, { graceMs: 10_000, expectInCommandLine: rec.mainJs });
      say(`${label(id)} pid ${rec.pid}: ${describeStop(result)}`);
      removeFile(path.join(config.stackDir, `${id}.pid`));
      delete state.services[id];
      writeState(config, state);
    }),
  );
  // After the services (their SIGTERM flushes their last spans to it), before Kafka.
  if (state.zipkin) {
    const rec = state.zipkin;
    say(`${label('zipkin')} pid ${rec.pid}: ${describeStop(await stopZipkinServer(rec.pid))}`);
    removeFile(path.join(config.stackDir, 'zipkin.pid'));
    delete state.zipkin;
    writeState(config, state);
  }
  if (state.proxy) {
    const rec = state.proxy;
    const result = await terminateProcess(rec.pid, { graceMs: 5_000, expectInCommandLine: PROXY_MAIN });
    say(`${label('proxy')} pid ${rec.pid}: ${describeStop(result)}`);
    removeFile(rec.pidFile);
    delete state.proxy;
    writeState(config, state);
  }
  if (state.kafka) {
    const rec = state.kafka;
    const result = await terminateProcess(rec.pid, { graceMs: 20_000, expectInCommandLine: 'kafka.Kafka' });
    say(`${label('kafka')} pid ${rec.pid}: ${describeStop(result)}`);
    removeFile(config.kafka.pidFile);
    delete state.kafka;
    writeState(config, state);
  }
  if (state.redis?.startedByUs) {
    say(`${label('redis')} ${await stopRedis(state.redis)}`);
    removeFile(state.redis.pidFile);
    delete state.redis;
    writeState(config, state);
  }
  if (state.ownPostgres) {
    say(`${label('postgres')} ${await stopOwnPostgres(state.ownPostgres)}`);
    delete state.ownPostgres;
    writeState(config, state);
  }
  if (state.postgres?.startedByUs) {
    say(`${label('postgres')} ${stopPostgres(state.postgres)}`);
    delete state.postgres;
  }
  removeFile(config.stateFile);
}

function describeStop(result: Awaited<ReturnType<typeof terminateProcess>>): string {
  switch (result) {
    case 'exited':
      return 'stopped';
    case 'killed':
      return 'killed (did not stop within the grace period)';
    case 'not-running':
      return 'was not running';
    case 'not-ours':
      return 'pid now belongs to another program; left alone';
  }
}

export async function stackDown(config: StackConfig, say: Say): Promise<number> {
  const state = stateForDown(config);
  if (!state) {
    say(`nothing to stop (no ${path.relative(process.cwd(), config.stateFile) || config.stateFile} and no pid files)`);
    return 0;
  }
  await stopRecorded(config, state, say);
  say('stack down; logs kept in .mfsim/stack/');
  return 0;
}

export interface UpOptions {
  /** Start the services (default true; --no-services starts Kafka, PostgreSQL and Redis only). */
  services: boolean;
  /**
   * Start only these services (with their replicas); default all five. For tests that need one
   * service's processes and not the rest.
   */
  only?: ServiceName[];
  /**
   * --proxies: start the TCP proxy and route every service's Kafka, PostgreSQL and Redis traffic
   * through its own edges (`<id>->kafka|postgres|redis`), so network faults can target them.
   */
  proxies?: boolean;
}

export async function stackUp(config: StackConfig, opts: UpOptions, say: Say): Promise<number> {
  const t0 = Date.now();
  const since = (t: number = t0) => `${((Date.now() - t) / 1000).toFixed(1)}s`;
  const ready = (name: string, text: string) => say(`${label(name)} ready in ${since()}  ${text}`);

  const previous = stateForDown(config);
  if (previous) {
    const alive = livePids(previous);
    if (alive.length > 0) {
      throw new StackError(`the stack is already up (${alive.map((a) => `${a.name} pid ${a.pid}`).join(', ')}): run \`mfsim stack down\` first`);
    }
    // Left by a run that died: nothing of it runs any more.
    await stopRecorded(config, previous, () => undefined);
  }

  const wanted = opts.services ? config.services.filter((s) => !opts.only || opts.only.includes(s.name)) : [];
  const built = wanted.filter((s) => existsSync(s.mainJs));
  const notBuilt = wanted.filter((s) => !existsSync(s.mainJs));
  const edges = opts.proxies ? proxyEdges(config) : undefined;
  if (edges && !existsSync(PROXY_MAIN)) throw new StackError(`${path.relative(config.root, PROXY_MAIN)} is missing (run npm run build)`, 2);
  try {
    await assertPortsFree([
      ...(edges ? proxyPorts(config, edges) : []),
      { port: config.kafka.port, what: 'Kafka' },
      { port: config.kafka.controllerPort, what: 'Kafka controller' },
      ...(config.ownRedis ? [{ port: config.ownRedis.port, what: 'Redis' }] : []),
      ...(config.zipkin ? [{ port: config.zipkin.port, what: 'Zipkin' }] : []),
      ...built.map((s) => ({ port: s.port, what: `${s.id} HTTP` })),
    ]);
  } catch (err) {
    if (!(err instanceof PortInUseError)) throw err;
    const hints: Record<string, string> = { Kafka: 'MFSIM_KAFKA_PORT', 'Kafka controller': 'MFSIM_KAFKA_CONTROLLER_PORT', Redis: 'MFSIM_REDIS_PORT', Zipkin: 'MFSIM_ZIPKIN_PORT (or --no-traces)' };
    const hint = hints[err.what] ?? (err.what === 'proxy control' ? 'MFSIM_PROXY_CONTROL_PORT' : /proxy|listener/.test(err.what) ? 'MFSIM_PROXY_PORT_BASE' : 'MFSIM_HTTP_PORT_BASE');
    throw new StackError(`${err.message}: stop what listens there${hint ? ` or set ${hint}` : ''} (is another stack up? \`mfsim stack status\`)`, 2);
  }
  ensureJars(say);
  if (config.zipkin) ensureZipkinJar({ log: say });
  mkdirSync(config.stackDir, { recursive: true });

  // The admin token the services require for state-changing requests (state.json is mode 0600).
  const adminToken = process.env['MFSIM_ADMIN_TOKEN']?.trim() || randomBytes(24).toString('base64url');
  const state: StackState = { startedAt: new Date().toISOString(), databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, services: {}, adminToken };
  writeState(config, state);
  const abort = new AbortController();
  const onSignal = () => abort.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  say(`${label('kafka')} starting Kafka ${kafkaVersion()} on 127.0.0.1:${config.kafka.port} (log .mfsim/stack/kafka.log)`);
  const kafkaStart: Promise<KafkaBrokerHandle> = startStackKafka(config, abort.signal, edges ? kafkaEdgeListeners(edges) : undefined).then((h) => {
    state.kafka = { pid: h.pid, port: h.port, controllerPort: h.controllerPort, logFile: h.logFile, dataDir: h.dataDir };
    writePidFile(config.kafka.pidFile, h.pid);
    writeState(config, state);
    ready('kafka', `127.0.0.1:${h.port} pid ${h.pid}`);
    return h;
  });
  kafkaStart.catch(() => undefined); // awaited below, or settled in the rollback

  // The trace backend, also in the background (a JVM too); the services wait for it.
  const zipkinStart: Promise<ZipkinServerHandle | undefined> = config.zipkin ? startStackZipkin(config, state, abort.signal, say, ready) : Promise.resolve(undefined);
  zipkinStart.catch(() => undefined);

  try {
    if (edges) {
      const proxy = await startProxy(config, edges, adminToken, abort.signal);
      state.proxy = proxy;
      writePidFile(proxy.pidFile, proxy.pid);
      writeState(config, state);
      ready('proxy', `control http://127.0.0.1:${proxy.controlPort} pid ${proxy.pid}, ${Object.keys(edges).length} edges from 127.0.0.1:${config.proxy.portBase}`);
    }
    if (config.ownPostgres) {
      const own = await startOwnPostgres(config);
      state.ownPostgres = own;
      writeState(config, state);
      ready('postgres', `own server 127.0.0.1:${own.port} pid ${own.pid} (data ${path.relative(config.root, own.dataDir)})`);
    } else {
      const pg = await ensurePostgres(config);
      if (pg.started) {
        state.postgres = pg.started;
        writeState(config, state);
      }
      ready('postgres', pg.line);
    }
    const redis = await ensureRedis(config);
    if (redis.started) {
      state.redis = redis.started;
      writePidFile(redis.started.pidFile, redis.started.pid);
      writeState(config, state);
    }
    ready('redis', redis.line);

    const dbName = databaseName(config.databaseUrl);
    const created = await ensureDatabase(adminUrl(config), dbName);
    say(`${label('database')} ${dbName}: ${created ? 'created' : 'exists'}`);
    say(`${label('migrations')} ${await applyMigrations(config.databaseUrl)}`);

    const kafka = await kafkaStart;
    const topics = loadAllTopics();
    if (topics) {
      const named = topics.map((t) => ({ ...t, name: `${config.topicPrefix}${t.name}` }));
      const [made, had] = await createStackTopics(kafka.brokers, named);
      say(`${label('topics')} ${made} created, ${had} already there${config.topicPrefix ? ` (prefix "${config.topicPrefix}")` : ''}`);
    } else {
      say(`${label('topics')} skipped: @mfsim/contracts has no ALL_TOPICS yet`);
    }

    const zipkin = await zipkinStart;
    for (const s of notBuilt) say(`${label(s.id)} NOT STARTED: ${path.relative(config.root, s.mainJs)} is missing (run npm run build)`);
    if (abort.signal.aborted) throw new StackError('interrupted');
    await startServices(config, state, built, abort.signal, since, say);

    say(
      `stack up in ${since()}: Kafka 127.0.0.1:${config.kafka.port}, PostgreSQL, Redis ${config.redisUrl}, ` +
        `${built.length} of ${wanted.length} service process(es)${notBuilt.length > 0 ? ` (${notBuilt.length} not built)` : ''}` +
        `${edges ? `, through the proxy (control http://127.0.0.1:${config.proxy.controlPort})` : ''}` +
        `${zipkin ? `, traces in Zipkin ${zipkin.url}/zipkin/` : ''}. ` +
        '`mfsim stack status` / `mfsim stack down`',
    );
    return 0;
  } catch (err) {
    abort.abort();
    await kafkaStart.catch(() => undefined);
    await zipkinStart.catch(() => undefined);
    say('up failed: stopping what it started');
    await stopRecorded(config, state, (line) => say(`  ${line}`));
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

/** Starts the stack's Zipkin (detached, in-memory) and records it as soon as it answers. */
async function startStackZipkin(config: StackConfig, state: StackState, signal: AbortSignal, say: Say, ready: (name: string, text: string) => void): Promise<ZipkinServerHandle> {
  const z = config.zipkin!;
  say(`${label('zipkin')} starting Zipkin ${zipkinVersion()} on 127.0.0.1:${z.port} (in-memory; log .mfsim/stack/zipkin.log)`);
  const h = await startZipkinServer({ port: z.port, logFile: z.logFile, detached: true, signal, readyTimeoutMs: config.timeoutMs });
  state.zipkin = { pid: h.pid, port: h.port, logFile: h.logFile, traceUrl: h.traceUrlTemplate, spansEndpoint: h.spansEndpoint };
  writePidFile(z.pidFile, h.pid);
  writeState(config, state);
  ready('zipkin', `${h.url}/zipkin/ pid ${h.pid}`);
  return h;
}

/** Whether the recorded Zipkin pid is still our Zipkin server (for status). */
export function zipkinPid(config: StackConfig, state: StackState | undefined): number | undefined {
  const pid = state?.zipkin?.pid ?? (config.zipkin ? readPidFile(config.zipkin.pidFile) : undefined);
  return pid !== undefined && isZipkinServerProcess(pid) ? pid : undefined;
}

async function startServices(config: StackConfig, state: StackState, services: ServiceConfig[], signal: AbortSignal, since: (t?: number) => string, say: Say): Promise<void> {
  if (services.length === 0) return;
  const startedAt = Date.now();
  for (const s of services) {
    const pid = startService(config, s);
    state.services[s.id] = { pid, port: s.port, logFile: s.logFile, mainJs: s.mainJs, name: s.name, replica: s.replica };
    writePidFile(s.pidFile, pid);
    say(`${label(s.id)} started pid ${pid}, waiting for http://127.0.0.1:${s.port}/health`);
  }
  writeState(config, state);
  const deadline = Date.now() + config.timeoutMs;
  const outcomes = await Promise.all(
    services.map(async (s) => {
      const outcome = await waitForHealthy({
        pid: state.services[s.id]!.pid,
        port: s.port,
        deadline,
        startedAt,
        signal,
        onWaiting: (last) => say(`${label(s.id)} still waiting after ${since(startedAt)} (health: ${last})`),
      });
      if (outcome.ok) say(`${label(s.id)} ready in ${since()}  http://127.0.0.1:${s.port}/health 200`);
      return { s, outcome };
    }),
  );
  const failed = outcomes.filter((o) => !o.outcome.ok);
  if (failed.length === 0) return;
  for (const { s, outcome } of failed) {
    const reason = outcome.ok ? '' : outcome.reason;
    say(`${label(s.id)} FAILED: ${reason}. Last lines of ${path.relative(config.root, s.logFile)}:`);
    for (const line of stripAnsi(tailFile(s.logFile, 25)).split('\n')) say(`  | ${line}`);
  }
  throw new StackError(`${failed.map((f) => f.s.id).join(', ')} did not become healthy`);
}

/** Log lines without terminal colour codes. */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/** Whether the recorded Kafka pid is still our broker (for status). */
export function kafkaPid(config: StackConfig, state: StackState | undefined): number | undefined {
  const pid = state?.kafka?.pid ?? readPidFile(config.kafka.pidFile);
  return pid !== undefined && isKafkaBrokerProcess(pid) ? pid : undefined;
}
