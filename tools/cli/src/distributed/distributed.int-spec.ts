/**
 * Every scenario of the repo, run embedded and through the five real services (Kafka,
 * PostgreSQL, Redis), must give the same outcome and the same call trees — once with one
 * process per service and once with two replicas of xfs-fs and mm-process.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { comparableRun, parseScenario, runScenario, runScenarioDistributed } from '@mfsim/scenario';
import { REPO_ROOT, testKafkaBrokers, TestStack, type StackServiceName } from '@mfsim/testing';

import { KafkaCluster } from './kafka-cluster';
import { scenarioFilesUnder } from './scenario-files';

const FILES = scenarioFilesUnder(path.join(REPO_ROOT, 'scenarios'));

const VARIANTS: { name: string; replicas: Partial<Record<StackServiceName, number>> }[] = [
  { name: 'one process per service', replicas: {} },
  { name: 'two replicas of xfs-fs and mm-process', replicas: { 'xfs-fs': 2, 'mm-process': 2 } },
];

for (const variant of VARIANTS) {
  describe(`distributed mode agrees with embedded mode (${variant.name})`, { timeout: 1_200_000 }, () => {
    let stack: TestStack | undefined;
    let cluster: KafkaCluster | undefined;

    before(async () => {
      stack = await TestStack.start({ replicas: variant.replicas });
      cluster = await KafkaCluster.connect({
        brokers: testKafkaBrokers(),
        topicPrefix: stack.topicPrefix,
        serviceUrls: stack.serviceUrls(),
        dropOnClose: true,
        callTimeoutMs: 90_000,
      });
    });

    after(async () => {
      await cluster?.close();
      await stack?.stop();
    });

    it('finds the scenario folders', () => assert.ok(FILES.length >= 100, `only ${FILES.length} scenario files`));

    for (const file of FILES) {
      it(path.relative(REPO_ROOT, file), async () => {
        const parsed = parseScenario(readFileSync(file, 'utf8'), file);
        assert.ok(parsed.ok);
        const embedded = runScenario(parsed.scenario, undefined, { setupTrace: 'full' });
        let distributed;
        try {
          distributed = await runScenarioDistributed(parsed.scenario, cluster as KafkaCluster);
        } catch (err) {
          throw new Error(`${err instanceof Error ? err.message : String(err)}\n${stack?.logs()}`);
        }
        assert.deepEqual(comparableRun(distributed), comparableRun(embedded));
        assert.equal(distributed.pass, embedded.pass);
      });
    }
  });
}
