/**
 * `mfsim stack up --proxies` against real servers, on free ports, in a temp dir, with a database
 * of its own: the proxy process, every service reaching Kafka, PostgreSQL and Redis only through its
 * own edges (Kafka through the broker's extra listener advertised at the service's proxy port), the
 * generated admin token; a latency on `xfs-fs->kafka` really slows a failure, a reset on
 * `xfs-fs->postgres` is seen and healed; `down` stops the proxy.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { comparableRun, parseScenario, runScenario, runScenarioDistributed, type Scenario } from '@mfsim/scenario';
import { dropDatabase, findFreePorts, isProcessAlive, ProxyControl, withDatabase } from '@mfsim/stack';
import { REPO_ROOT, testDatabaseAdminUrl, uniqueId } from '@mfsim/testing';

import { NETWORK_FAULTS } from '../chaos/nemesis/network';
import type { FaultContext, FaultKind } from '../chaos/nemesis/fault';
import { KafkaCluster } from '../distributed/kafka-cluster';
import { stackTarget } from '../distributed/stack-target';
import { loadStackConfig, StackConfig } from './config';
import { stackDown, stackUp } from './lifecycle';
import { readState } from './state';

const REFLINK = path.join(REPO_ROOT, 'scenarios/examples/03-reflinked-block-two-owners.yaml');
const kind = (name: string) => NETWORK_FAULTS.find((k) => k.kind === name) as FaultKind;

describe('mfsim stack up --proxies (all five services through their own edges)', { timeout: 600_000 }, () => {
  const stackDir = mkdtempSync(path.join(tmpdir(), 'mfsim-proxies-it-'));
  const dbName = uniqueId('mfsim_proxies_it').replace(/-/g, '_');
  const lines: string[] = [];
  let config: StackConfig;
  let upRc: number | undefined;
  let cluster: KafkaCluster | undefined;
  let scenario: Scenario;
  let embedded: unknown;
  let ctx: FaultContext;

  const runOnce = async (): Promise<{ ms: number; run: unknown }> => {
    const t0 = Date.now();
    const run = await runScenarioDistributed(scenario, cluster as KafkaCluster);
    return { ms: Date.now() - t0, run: comparableRun(run) };
  };

  before(async () => {
    const parsed = parseScenario(readFileSync(REFLINK, 'utf8'), REFLINK);
    assert.ok(parsed.ok);
    scenario = parsed.scenario;
    embedded = comparableRun(runScenario(scenario, undefined, { setupTrace: 'full' }));
    // Kafka, controller, Redis (= the HTTP base: services on +1..+5), proxy control, 20 edge/listener ports.
    const ports = await findFreePorts(29);
    config = loadStackConfig(
      {
        MFSIM_KAFKA_PORT: String(ports[0]),
        MFSIM_KAFKA_CONTROLLER_PORT: String(ports[1]),
        MFSIM_REDIS_PORT: String(ports[2]),
        MFSIM_HTTP_PORT_BASE: String(ports[2]),
        MFSIM_PROXY_CONTROL_PORT: String(ports[8]),
        MFSIM_PROXY_PORT_BASE: String(ports[9]),
        DATABASE_URL: withDatabase(testDatabaseAdminUrl(), dbName),
      },
      // No Zipkin: this test is about the proxy (stack.int-spec.ts covers the trace backend).
      { stackDir, timeoutMs: 180_000, noTraces: true },
    );
    upRc = await stackUp(config, { services: true, proxies: true }, (l) => lines.push(l));
    const target = stackTarget({ MFSIM_STACK_DIR: stackDir });
    cluster = await KafkaCluster.connect({ ...target, dropOnClose: true, callTimeoutMs: 120_000 });
    ctx = { config, state: () => readState(config) as NonNullable<ReturnType<typeof readState>>, say: (l) => lines.push(l), signal: new AbortController().signal };
  });

  after(async () => {
    await cluster?.close();
    await stackDown(config, () => undefined).catch(() => undefined);
    await dropDatabase(testDatabaseAdminUrl(), dbName);
    rmSync(stackDir, { recursive: true, force: true });
  });

  it('records the proxy and a generated admin token (state.json mode 0600); the services use their edges only', async () => {
    assert.equal(upRc, 0, lines.join('\n'));
    const state = readState(config);
    assert.ok(state?.proxy && isProcessAlive(state.proxy.pid));
    assert.equal(Object.keys(state.proxy.edges).length, 15);
    assert.match(state.adminToken ?? '', /^[A-Za-z0-9_-]{32}$/);
    assert.equal(statSync(config.stateFile).mode & 0o777, 0o600);
    const env = readFileSync(`/proc/${state.services['xfs-fs']?.pid}/environ`, 'utf8').split('\0');
    assert.ok(env.includes(`KAFKA_BROKERS=127.0.0.1:${state.proxy.edges['xfs-fs->kafka']?.port}`), 'xfs-fs bootstraps through its kafka edge');
    assert.ok(env.includes(`MFSIM_ADMIN_TOKEN=${state.adminToken}`));
    const base = await runOnce();
    assert.deepEqual(base.run, embedded);
    const list = await new ProxyControl(`http://127.0.0.1:${state.proxy.controlPort}`).list();
    for (const service of ['pmem-driver', 'dax-core', 'dm-mapper', 'xfs-fs', 'mm-process']) {
      assert.ok((list[`${service}->kafka`]?.counters.bytesDown ?? 0) > 0, `${service} talks to Kafka through its edge`);
      assert.ok((list[`${service}->postgres`]?.counters.bytesDown ?? 0) > 0, `${service} talks to PostgreSQL through its edge`);
    }
    assert.ok((list['mm-process->redis']?.counters.bytesDown ?? 0) > 0, 'mm-process talks to Redis through its edge');
    // Without the token, a state change is refused.
    const refused = await fetch(`http://127.0.0.1:${state.services['xfs-fs']?.port}/runs/x`, { method: 'DELETE' });
    assert.equal(refused.status, 401);
  });

  it('latency on xfs-fs->kafka is seen by a probe and really slows a failure; end heals it', async () => {
    const before = await runOnce();
    const fault = await kind('latency').start(kind('latency').parse({ kind: 'latency', target: 'xfs-fs->kafka', at: 0, for: '60s', latencyMs: 200, jitterMs: 20 }, 'faults[0]'), ctx);
    let slow: { ms: number; run: unknown };
    try {
      assert.match(await fault.effect, /probe through xfs-fs->kafka answered in \d+ ms/);
      slow = await runOnce();
    } finally {
      await fault.end();
    }
    assert.deepEqual(slow.run, embedded);
    assert.ok(slow.ms >= before.ms + 1000, `with 200 ms on xfs-fs->kafka ${slow.ms} ms, without ${before.ms} ms`);
    process.stdout.write(`# measured: reflink scenario ${before.ms} ms; with 200±20 ms on xfs-fs->kafka ${slow.ms} ms\n`);
    const healed = await runOnce();
    assert.deepEqual(healed.run, embedded);
  });

  it('reset on xfs-fs->postgres is seen; after its end a failure runs right', async () => {
    const fault = await kind('reset').start(kind('reset').parse({ kind: 'reset', target: 'xfs-fs->postgres', at: 0, for: '2s' }, 'faults[0]'), ctx);
    try {
      assert.match(await fault.effect, /was reset/);
    } finally {
      await fault.end();
    }
    const t0 = Date.now();
    const healed = await runOnce();
    assert.deepEqual(healed.run, embedded);
    process.stdout.write(`# measured: first failure after a reset of xfs-fs->postgres ${Date.now() - t0} ms\n`);
  });

  it('down stops the proxy with the rest', async () => {
    const pid = readState(config)?.proxy?.pid as number;
    await cluster?.close();
    cluster = undefined;
    assert.equal(await stackDown(config, (l) => lines.push(l)), 0);
    assert.equal(isProcessAlive(pid), false);
    assert.ok(lines.some((l) => /proxy\s+pid \d+: stopped/.test(l)), lines.join('\n'));
  });
});
