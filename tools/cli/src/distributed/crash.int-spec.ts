/**
 * Each of the five services is killed with SIGKILL in the middle of an incident and started
 * again with empty memory: the incident still finishes, with the embedded outcome, the same call
 * tree and no signal sent twice. "In the middle": a service further down the chain is paused
 * (SIGSTOP) so the victim is holding an open chain (a hop waiting for an answer) when it dies.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { comparableRun, parseScenario, runScenario, runScenarioDistributed } from '@mfsim/scenario';
import { REPO_ROOT, sleep, testKafkaBrokers, TestStack, type StackServiceName } from '@mfsim/testing';

import { Client } from 'pg';

import { KafkaCluster } from './kafka-cluster';

const TABLE: Record<StackServiceName, string> = { 'pmem-driver': 'pmem_call', 'dax-core': 'dax_call', 'dm-mapper': 'dm_call', 'xfs-fs': 'xfs_call', 'mm-process': '' };

/** How many calls the victim has open (waiting on another service) right now, from its store. */
async function openCalls(stack: TestStack, victim: StackServiceName): Promise<number> {
  if (victim === 'mm-process') {
    // hop:open (under the services' key prefix) is the mm store's set of open chains.
    return stack.redis.redis.zcard(`${stack.redisPrefix}hop:open`);
  }
  const db = new Client({ connectionString: stack.database.url });
  await db.connect();
  try {
    const r = await db.query(`SELECT count(*)::int AS n FROM ${TABLE[victim]} WHERE status = 'open'`);
    return (r.rows[0] as { n: number }).n;
  } finally {
    await db.end();
  }
}

const REFLINK = path.join(REPO_ROOT, 'scenarios/examples/03-reflinked-block-two-owners.yaml');
const DM_PROPOSAL = path.join(REPO_ROOT, 'scenarios/examples/09-dm-linear-proposal-forwards.yaml');
const UNBIND = path.join(REPO_ROOT, 'scenarios/examples/07-unbind-pre-remove.yaml');

/** The victim, the service paused below it so it waits, and the scenario that crosses both. */
const CASES: { victim: StackServiceName; paused: StackServiceName; file: string }[] = [
  { victim: 'mm-process', paused: 'xfs-fs', file: REFLINK },
  { victim: 'pmem-driver', paused: 'xfs-fs', file: REFLINK },
  { victim: 'dax-core', paused: 'xfs-fs', file: REFLINK },
  { victim: 'dm-mapper', paused: 'xfs-fs', file: DM_PROPOSAL },
  // The unbind starts at pmem-driver, so mm-process can be the paused one: xfs-fs waits on it
  // for mf_dax_kill_procs while it walks the whole device.
  { victim: 'xfs-fs', paused: 'mm-process', file: UNBIND },
  { victim: 'dax-core', paused: 'mm-process', file: UNBIND },
];

describe('a service killed mid-incident and restarted', { timeout: 900_000 }, () => {
  let stack: TestStack | undefined;
  let cluster: KafkaCluster | undefined;

  before(async () => {
    stack = await TestStack.start();
    cluster = await KafkaCluster.connect({
      brokers: testKafkaBrokers(),
      topicPrefix: stack.topicPrefix,
      serviceUrls: stack.serviceUrls(),
      dropOnClose: true,
      callTimeoutMs: 120_000,
      resendAfterMs: 3000,
    });
  });

  after(async () => {
    await cluster?.close();
    await stack?.stop();
  });

  for (const c of CASES) {
    it(`${c.victim} (waiting on a paused ${c.paused}) in ${path.basename(c.file)}`, async (t) => {
      const s = stack as TestStack;
      const parsed = parseScenario(readFileSync(c.file, 'utf8'), c.file);
      assert.ok(parsed.ok);
      const embedded = runScenario(parsed.scenario, undefined, { setupTrace: 'full' });
      const started = Date.now();
      const distributed = await runScenarioDistributed(parsed.scenario, cluster as KafkaCluster, {
        aroundInjection: async (inj, send) => {
          // The first injection is the one broken; later ones (a later access) run normally.
          if (inj !== parsed.scenario.injections[0]) return send();
          s.pause(c.paused, true);
          const result = send();
          await sleep(1500);
          const open = await openCalls(s, c.victim);
          assert.ok(open > 0, `${c.victim} holds no open call when it is killed`);
          await s.kill(c.victim);
          s.pause(c.paused, false);
          await s.restart(c.victim);
          return result;
        },
      }).catch((err: Error) => {
        s.pause(c.paused, false);
        throw new Error(`${err.message}\n${s.logs()}`);
      });
      t.diagnostic(`finished ${((Date.now() - started) / 1000).toFixed(1)} s after the injection was sent`);
      assert.deepEqual(comparableRun(distributed), comparableRun(embedded));
      const victim = s.service(c.victim);
      assert.ok(!victim.lines.some((l) => /^\s+at /.test(l)), `${c.victim} logged a stack trace`);
    });
  }
});
