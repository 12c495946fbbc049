/**
 * The network and application faults of the nemesis, and the admin token, against real services
 * (TestStack: real Kafka, PostgreSQL, Redis, the five services as processes) with the stack's TCP
 * proxy as its own process (libs/stack/dist/proxy-main.js) carrying xfs-fs's PostgreSQL and
 * mm-process's Redis traffic. Each fault kind: start → effect observed → end, and the failure it
 * hits still ends with the embedded model's outcome (one SIGBUS per injection).
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { comparableRun, parseScenario, runScenario, runScenarioDistributed, type Scenario } from '@mfsim/scenario';
import { findFreePorts, ProxyControl, terminateProcess, waitFor } from '@mfsim/stack';
import { REPO_ROOT, testDatabaseAdminUrl, testKafkaBrokers, testRedisUrl, TestStack } from '@mfsim/testing';

import { ClusterError, KafkaCluster } from '../../distributed/kafka-cluster';
import { loadStackConfig } from '../../stack/config';
import type { StackState } from '../../stack/state';
import { parsePlan } from '../plan';
import { runPlan } from '../runner';
import { APP_FAULTS } from './app';
import type { FaultContext, FaultKind } from './fault';
import { NETWORK_FAULTS } from './network';

const TOKEN = 'chaosnet-test-token-0123456789';
const REFLINK = path.join(REPO_ROOT, 'scenarios/examples/03-reflinked-block-two-owners.yaml');
const KINDS = new Map<string, FaultKind>([...NETWORK_FAULTS, ...APP_FAULTS].map((k) => [k.kind, k]));

function kind(name: string): FaultKind {
  const k = KINDS.get(name);
  assert.ok(k, `no fault kind ${name}`);
  return k;
}

function hostPortOf(url: string, dflt: number): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname, port: u.port ? Number(u.port) : dflt };
}

describe('chaosnet: network and application faults, admin token (real services)', { timeout: 900_000 }, () => {
  let stack: TestStack;
  let cluster: KafkaCluster;
  let proxy: ChildProcess;
  let proxyLog = '';
  let ctx: FaultContext;
  let scenario: Scenario;
  let embedded: unknown;
  let stackDir: string;
  const said: string[] = [];

  /** One run of the reflink scenario through the stack: its outcome and how long it took. */
  async function runOnce(): Promise<{ ms: number; run: unknown }> {
    const t0 = Date.now();
    const run = await runScenarioDistributed(scenario, cluster).catch((err: Error) => {
      throw new Error(`${err.message}\n${stack.logs()}`);
    });
    return { ms: Date.now() - t0, run: comparableRun(run) };
  }

  before(async () => {
    const parsed = parseScenario(readFileSync(REFLINK, 'utf8'), REFLINK);
    assert.ok(parsed.ok);
    scenario = parsed.scenario;
    embedded = comparableRun(runScenario(scenario, undefined, { setupTrace: 'full' }));

    const [control, pgEdge, redisEdge] = (await findFreePorts(3)) as [number, number, number];
    const pg = hostPortOf(testDatabaseAdminUrl(), 5432);
    const redis = hostPortOf(testRedisUrl(), 6379);
    proxy = spawn(
      process.execPath,
      [
        path.join(REPO_ROOT, 'libs/stack/dist/proxy-main.js'),
        '--control-port', String(control),
        '--proxy', `xfs-fs->postgres=${pgEdge}=${pg.host}:${pg.port}`,
        '--proxy', `mm-process->redis=${redisEdge}=${redis.host}:${redis.port}`,
      ],
      { env: { ...process.env, MFSIM_ADMIN_TOKEN: TOKEN }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    proxy.stdout?.setEncoding('utf8').on('data', (c: string) => (proxyLog += c));
    proxy.stderr?.setEncoding('utf8').on('data', (c: string) => (proxyLog += c));
    await waitFor('proxy.ready', () => (proxyLog.includes('proxy.ready') ? true : undefined), 20_000);

    stack = await TestStack.start({
      env: { MFSIM_ADMIN_TOKEN: TOKEN },
      serviceEnv: (name, env) => {
        if (name === 'xfs-fs') {
          const u = new URL(env['DATABASE_URL'] as string);
          u.port = String(pgEdge);
          return { ...env, DATABASE_URL: u.toString() };
        }
        if (name === 'mm-process') return { ...env, REDIS_URL: `redis://127.0.0.1:${redisEdge}` };
        return env;
      },
    });
    cluster = await KafkaCluster.connect({
      brokers: testKafkaBrokers(),
      topicPrefix: stack.topicPrefix,
      serviceUrls: stack.serviceUrls(),
      dropOnClose: true,
      callTimeoutMs: 120_000,
      adminToken: TOKEN,
    });
    stackDir = mkdtempSync(path.join(tmpdir(), 'mfsim-chaosnet-'));
    const kafkaPort = Number((testKafkaBrokers()[0] as string).split(':').pop());
    const config = loadStackConfig({ MFSIM_KAFKA_PORT: String(kafkaPort), MFSIM_TOPIC_PREFIX: stack.topicPrefix }, { stackDir });
    const state: StackState = {
      startedAt: new Date().toISOString(),
      adminToken: TOKEN,
      services: Object.fromEntries(stack.services.map((s) => [s.name, { pid: s.child.pid as number, port: s.port, logFile: '', mainJs: '', name: s.name }])),
      proxy: {
        pid: proxy.pid as number,
        controlPort: control,
        logFile: '',
        pidFile: '',
        edges: {
          'xfs-fs->postgres': { port: pgEdge, upstream: `${pg.host}:${pg.port}` },
          'mm-process->redis': { port: redisEdge, upstream: `${redis.host}:${redis.port}` },
        },
      },
    };
    ctx = { config, state: () => state, adminToken: TOKEN, say: (l) => said.push(l), signal: new AbortController().signal };
  });

  after(async () => {
    await cluster?.close();
    await stack?.stop();
    if (proxy?.pid) await terminateProcess(proxy.pid, { graceMs: 5000 });
    if (stackDir) rmSync(stackDir, { recursive: true, force: true });
  });

  it('admin token: a state change without or with a wrong token is refused (401, one JSON line, logged without the token); reads stay open; the right token passes', async () => {
    const xfs = `http://127.0.0.1:${stack.service('xfs-fs').port}`;
    const none = await fetch(`${xfs}/runs/nope`, { method: 'POST', body: '{"entities": []}', headers: { 'content-type': 'application/json' } });
    assert.equal(none.status, 401);
    const body = await none.text();
    assert.equal(body.trim().split('\n').length, 1);
    assert.match((JSON.parse(body) as { message: string }).message, /POST \/runs\/nope needs "Authorization: Bearer <admin token>" \(missing token/);
    const wrong = await fetch(`${xfs}/chaos/flags`, { method: 'POST', body: '{"slowHandlerMs": 5}', headers: { 'content-type': 'application/json', authorization: 'Bearer not-the-token' } });
    assert.equal(wrong.status, 401);
    const del = await fetch(`${xfs}/runs/nope`, { method: 'DELETE' });
    assert.equal(del.status, 401);
    assert.equal((await fetch(`${xfs}/health`)).status, 200);
    const flags = (await (await fetch(`${xfs}/chaos/flags`)).json()) as { slowHandlerMs: number };
    assert.equal(flags.slowHandlerMs, 0, 'the wrong token changed nothing');
    const right = await fetch(`${xfs}/chaos/flags`, { method: 'POST', body: '{"slowHandlerMs": 0}', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` } });
    assert.equal(right.status, 200);
    await waitFor('the refusals in the log', () => (stack.service('xfs-fs').lines.filter((l) => l.includes('admin.refused')).length >= 3 ? true : undefined), 5000);
    const refusals = stack.service('xfs-fs').lines.filter((l) => l.includes('admin.refused'));
    assert.ok(refusals.some((l) => /method=POST path=\/runs\/nope reason=missing token/.test(l)), refusals.join('\n'));
    assert.ok(refusals.some((l) => /method=POST path=\/chaos\/flags reason=wrong token/.test(l)), refusals.join('\n'));
    assert.ok(stack.services.every((s) => s.lines.every((l) => !l.includes(TOKEN) && !l.includes('not-the-token'))), 'a token value was logged');
    // The CLI's cluster without the token is refused with a one-line error naming the status.
    const tokenless = await KafkaCluster.connect({ brokers: testKafkaBrokers(), topicPrefix: stack.topicPrefix, serviceUrls: stack.serviceUrls(), dropOnClose: false });
    try {
      await assert.rejects(runScenarioDistributed(scenario, tokenless), (e: Error) => e instanceof ClusterError && /answered POST \/runs\/\S+ with 401/.test(e.message));
    } finally {
      await tokenless.close();
    }
  });

  it('latency on xfs-fs->postgres: the probe sees it, the proxy applied it, a failure is really slower and still right; end heals', async () => {
    const base = await runOnce();
    assert.deepEqual(base.run, embedded);
    const spec = kind('latency').parse({ kind: 'latency', target: 'xfs-fs->postgres', at: 0, for: '30s', latencyMs: 100, jitterMs: 10 }, 'faults[0]');
    const fault = await kind('latency').start(spec, ctx);
    try {
      const seen = await fault.effect;
      assert.match(seen, /probe through xfs-fs->postgres answered in \d+ ms .*proxy delayed \d+ chunks/);
      const slow = await runOnce();
      assert.deepEqual(slow.run, embedded);
      const counters = (await new ProxyControl(`http://127.0.0.1:${ctx.state().proxy?.controlPort}`).proxy('xfs-fs->postgres')).counters;
      assert.ok(counters.appliedDelayMsMax >= 90, `applied at most ${counters.appliedDelayMsMax} ms`);
      assert.ok(slow.ms >= base.ms + 400, `with latency ${slow.ms} ms, without ${base.ms} ms`);
      said.push(`measured: reflink scenario ${base.ms} ms, with 100±10 ms on xfs-fs->postgres ${slow.ms} ms; ${seen}`);
    } finally {
      await fault.end();
      await fault.end(); // idempotent
    }
    assert.deepEqual((await new ProxyControl(`http://127.0.0.1:${ctx.state().proxy?.controlPort}`).proxy('xfs-fs->postgres')).toxics, []);
  });

  it('slow-handler on xfs-fs: the service confirms the flag and a failure is slower; end clears the flag', async () => {
    const spec = kind('slow-handler').parse({ kind: 'slow-handler', target: 'xfs-fs', at: 0, for: '30s', delayMs: 400 }, 'faults[0]');
    const fault = await kind('slow-handler').start(spec, ctx);
    try {
      const [run, seen] = await Promise.all([runOnce(), fault.effect]);
      assert.match(seen, /xfs-fs confirms slowHandlerMs=400; \d+ steps slowed/);
      assert.deepEqual(run.run, embedded);
      assert.ok(run.ms >= 800, `a run with a 400 ms slow handler took ${run.ms} ms`);
      said.push(`measured: slow-handler 400 ms on xfs-fs, run ${run.ms} ms; ${seen}`);
    } finally {
      await fault.end();
    }
    const flags = (await (await fetch(`http://127.0.0.1:${stack.service('xfs-fs').port}/chaos/flags`)).json()) as { slowHandlerMs: number };
    assert.equal(flags.slowHandlerMs, 0);
  });

  it('consumer-delay on mm-process: messages are delayed and the failure still ends right', async () => {
    const spec = kind('consumer-delay').parse({ kind: 'consumer-delay', target: 'mm-process', at: 0, for: '30s', delayMs: 300 }, 'faults[0]');
    const fault = await kind('consumer-delay').start(spec, ctx);
    try {
      const [run, seen] = await Promise.all([runOnce(), fault.effect]);
      assert.match(seen, /mm-process confirms consumerDelayMs=300; \d+ messages delayed/);
      assert.deepEqual(run.run, embedded);
      said.push(`measured: consumer-delay 300 ms on mm-process, run ${run.ms} ms; ${seen}`);
    } finally {
      await fault.end();
    }
  });

  it('duplicate on all services: copies are re-produced and nothing changes twice (one SIGBUS per injection)', async () => {
    const spec = kind('duplicate').parse({ kind: 'duplicate', target: 'all', at: 0, for: '30s', copies: 2 }, 'faults[0]');
    const fault = await kind('duplicate').start(spec, ctx);
    try {
      const [run, seen] = await Promise.all([runOnce(), fault.effect]);
      assert.match(seen, /\.[a-z-]+ consumed the copy at \S+\[\d+\]@\d+ \(committed \d+\); [1-9]\d* copies of \d+ message/);
      // Let the copies of the last messages be handled too before the outcome is compared again.
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(run.run, embedded);
      said.push(`measured: duplicate x2 on all; ${seen}`);
    } finally {
      await fault.end();
    }
  });

  it('malformed on xfs-fs: bad messages interleaved with a failure land in the DLQ, the failure ends right', async () => {
    const spec = kind('malformed').parse({ kind: 'malformed', target: 'xfs-fs', at: 0, for: '20s', everyMs: 100 }, 'faults[0]');
    const fault = await kind('malformed').start(spec, ctx);
    try {
      const [run, seen] = await Promise.all([runOnce(), fault.effect]);
      assert.match(seen, /xfs\.(call|reply)\.v1\.dlq \+\d+/);
      assert.deepEqual(run.run, embedded);
      said.push(`measured: malformed every 100 ms on xfs-fs; ${seen}`);
    } finally {
      await fault.end();
    }
  });

  it('reset on mm-process->redis: the probe is reset; after the end a failure runs right again', async () => {
    const spec = kind('reset').parse({ kind: 'reset', target: 'mm-process->redis', at: 0, for: '5s' }, 'faults[0]');
    const fault = await kind('reset').start(spec, ctx);
    try {
      assert.match(await fault.effect, /probe through mm-process->redis was reset \((ECONNRESET|closed)\); proxy reset \d+ connections/);
    } finally {
      await fault.end();
    }
    const healed = await runOnce();
    assert.deepEqual(healed.run, embedded);
  });

  it('blackhole on xfs-fs->postgres: the probe gets no answer on an open connection; end removes it', async () => {
    const spec = kind('blackhole').parse({ kind: 'blackhole', target: 'xfs-fs->postgres', at: 0, for: '3s' }, 'faults[0]');
    const fault = await kind('blackhole').start(spec, ctx);
    try {
      assert.match(await fault.effect, /no answer in \d+ ms, connection still open; proxy dropped \d+ bytes/);
    } finally {
      await fault.end();
    }
    assert.deepEqual((await new ProxyControl(`http://127.0.0.1:${ctx.state().proxy?.controlPort}`).proxy('xfs-fs->postgres')).toxics, []);
    for (const line of said.filter((l) => l.startsWith('measured'))) process.stdout.write(`# ${line}\n`);
  });

  it('chaos run with the admin token: a blackhole on mm-process->redis mid-storm, every incident ok, the checker passes', async (t) => {
    // The runner must send the token (its set-up calls were refused with 401), and mm-process's
    // Redis client must not pair later replies with the requests the blackhole swallowed.
    const plan = parsePlan(
      {
        name: 'chaosnet-blackhole-mm-redis',
        seed: 21,
        topology: { generate: { devices: ['pmem'], files: 3, pages: 2, reflinked: 0 } },
        workload: { injections: 6, inflight: 2, accesses: 1, interval: '100ms' },
        faults: [{ kind: 'blackhole', target: 'mm-process->redis', at: '300ms', for: '3s' }],
        limits: { duration: '2m', callTimeout: '60s', drain: '20s' },
      },
      'chaosnet-blackhole.yaml',
    );
    const outDir = mkdtempSync(path.join(tmpdir(), 'mfsim-chaosnet-run-'));
    try {
      const result = await runPlan(
        plan,
        { brokers: testKafkaBrokers(), topicPrefix: stack.topicPrefix, serviceUrls: stack.serviceUrls(), config: ctx.config, state: ctx.state, adminToken: TOKEN },
        { outDir, say: () => undefined, signal: new AbortController().signal },
      );
      t.diagnostic(`ops ${result.ops.map((o) => `${o.injection}:${o.phase}`).join(' ')}; fault ${JSON.stringify(result.faults[0])}`);
      assert.equal(result.faults.length, 1);
      assert.match(result.faults[0]?.seen ?? '', /no answer in \d+ ms, connection still open/);
      assert.ok(result.ops.length > 0 && result.ops.every((o) => o.phase === 'ok'), 'every operation ok');
      assert.equal(result.check.ok, true, JSON.stringify(result.check.anomalies));
    } finally {
      rmSync(outDir, { recursive: true, force: true });
    }
  });
});
