/**
 * Every scenario of the repo, run embedded and through the in-process cluster (five hosts that
 * forget everything but their stored entities and call records after each message, so every
 * reply is a full replay): the outcomes and the call trees must be identical.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { comparableRun, runScenarioDistributed } from './distributed';
import { parseScenario } from './parse-scenario';
import { runScenario } from './run-scenario';
import { SimCluster } from './sim-cluster';

const REPO = resolve(__dirname, '../../..');

function yamlFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'invalid' && name !== 'chaos') out.push(...yamlFiles(p)); // chaos/: plans and histories
    } else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

describe('distributed mode (in-process cluster, replay on every reply) agrees with embedded mode', () => {
  const files = yamlFiles(join(REPO, 'scenarios'));
  it('finds the scenario folders', () => assert.ok(files.length >= 100, `only ${files.length} files`));
  for (const file of files) {
    it(file.slice(REPO.length + 1), async () => {
      const parsed = parseScenario(readFileSync(file, 'utf8'), file);
      assert.ok(parsed.ok);
      const embedded = runScenario(parsed.scenario, undefined, { setupTrace: 'full' });
      // Small scenarios also decode every host's state from its entities on every message.
      const freshState = !/pmd|walk-all|xfs-55/.test(file);
      const distributed = await runScenarioDistributed(parsed.scenario, new SimCluster({ freshState }));
      assert.deepEqual(comparableRun(distributed), comparableRun(embedded));
      assert.equal(distributed.pass, embedded.pass);
    });
  }
});
