/**
 * `mfsim stack up --no-services`, status and down against the real servers: a second Kafka on
 * free ports, the test PostgreSQL and Redis. Its state lives in a temp root, so a developer's own
 * stack (.mfsim/stack) is never touched.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';

import { dropDatabase, findFreePorts, isProcessAlive, testDatabaseAdminUrl, testRedisUrl, uniqueId, withDatabase } from '@mfsim/testing';

import { loadStackConfig } from './config';
import { stackDown, stackUp } from './lifecycle';
import { readState } from './state';
import { collectStatus } from './status';

describe('mfsim stack up/status/down (no services)', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'mfsim-stack-it-'));
  const dbName = uniqueId('mfsim_stack_it').replace(/-/g, '_');
  const lines: string[] = [];
  const say = (line: string) => lines.push(line);

  after(async () => {
    await dropDatabase(testDatabaseAdminUrl(), dbName);
    rmSync(root, { recursive: true, force: true });
  });

  it('starts Kafka, finds PostgreSQL and Redis, creates the database, and stops only what it started', { timeout: 180_000 }, async () => {
    const [kafkaPort, controllerPort] = await findFreePorts(2);
    const config = loadStackConfig(
      {
        MFSIM_KAFKA_PORT: String(kafkaPort),
        MFSIM_KAFKA_CONTROLLER_PORT: String(controllerPort),
        DATABASE_URL: withDatabase(testDatabaseAdminUrl(), dbName),
        REDIS_URL: testRedisUrl(),
        MFSIM_TOPIC_PREFIX: `${uniqueId('it-stack')}.`,
      },
      { root },
    );

    assert.equal(await stackUp(config, { services: false }, say), 0, lines.join('\n'));
    const state = readState(config);
    assert.ok(state?.kafka, 'state records the broker');
    assert.equal(state.redis, undefined, 'Redis was running: not ours');
    assert.equal(state.postgres, undefined, 'PostgreSQL was running: not ours');
    assert.ok(isProcessAlive(state.kafka.pid));
    assert.ok(existsSync(config.kafka.pidFile));
    assert.ok(lines.some((l) => /kafka\s+ready in \d+\.\ds/.test(l)), lines.join('\n'));
    assert.ok(lines.some((l) => l.includes(`database     ${dbName}: created`)), lines.join('\n'));

    const rows = await collectStatus(config);
    const byName = Object.fromEntries(rows.map((r) => [r.component, r]));
    assert.equal(byName['kafka']?.pid, String(state.kafka.pid));
    assert.ok(byName['kafka']?.healthy && byName['postgres']?.healthy && byName['redis']?.healthy, JSON.stringify(rows));

    // A second up refuses while the first one runs.
    await assert.rejects(stackUp(config, { services: false }, say), /the stack is already up \(kafka pid \d+\)/);

    assert.equal(await stackDown(config, say), 0);
    assert.equal(isProcessAlive(state.kafka.pid), false);
    assert.equal(existsSync(config.stateFile), false);
    assert.equal(existsSync(config.kafka.pidFile), false);
    assert.ok(existsSync(config.kafka.logFile), 'the log is kept');
    // The machine's servers still answer.
    const after = await collectStatus(config);
    assert.ok(after.find((r) => r.component === 'postgres')?.healthy);
    assert.ok(after.find((r) => r.component === 'redis')?.healthy);
  });
});
