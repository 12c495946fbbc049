/** Where the integration tests' servers come from: env → container (Docker) → local. The Docker probe is injected. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import type { DockerEngineProbe } from './docker-engine';
import { NO_CONTAINERS_ENV, TEST_SERVER_ENV, containersOptedOut, planTestServers, redactPassword, type TestServerKind } from './test-servers';

const ENGINE: DockerEngineProbe = { available: true, endpoint: 'unix:///var/run/docker.sock', detail: 'API 1.47, linux', elapsedMs: 3 };
const NO_ENGINE: DockerEngineProbe = { available: false, endpoint: 'unix:///var/run/docker.sock', reason: 'no socket at /var/run/docker.sock', elapsedMs: 1 };

/** A probe that answers `answer` and counts its calls. */
function fakeProbe(answer: DockerEngineProbe) {
  const probe = async () => {
    probe.calls++;
    return answer;
  };
  probe.calls = 0;
  return probe;
}

const ALL_SET = {
  MFSIM_TEST_KAFKA_BROKERS: '127.0.0.1:29092',
  MFSIM_TEST_DATABASE_URL: 'postgresql://postgres:secret@127.0.0.1:5433/postgres',
  MFSIM_TEST_REDIS_URL: 'redis://127.0.0.1:6380',
};

const sources = (plan: Awaited<ReturnType<typeof planTestServers>>) =>
  Object.fromEntries(plan.choices.map((c) => [c.kind, c.source])) as Record<TestServerKind, string>;

describe('planTestServers', () => {
  it('uses every MFSIM_TEST_* variable that is set, and does not ask Docker at all', async () => {
    const probe = fakeProbe(ENGINE);
    const plan = await planTestServers({ env: ALL_SET, probeDocker: probe });
    assert.deepEqual(sources(plan), { kafka: 'env', postgres: 'env', redis: 'env' });
    assert.equal(probe.calls, 0);
    assert.equal(plan.docker, undefined);
    assert.deepEqual(
      plan.choices.map((c) => c.value),
      [ALL_SET.MFSIM_TEST_KAFKA_BROKERS, ALL_SET.MFSIM_TEST_DATABASE_URL, ALL_SET.MFSIM_TEST_REDIS_URL],
    );
    // The log line never shows a password.
    assert.equal(plan.choices[1]!.why, 'MFSIM_TEST_DATABASE_URL=postgresql://postgres:***@127.0.0.1:5433/postgres');
  });

  it('falls back to the local servers when the variables are unset and no Docker engine answers', async () => {
    const probe = fakeProbe(NO_ENGINE);
    const plan = await planTestServers({ env: {}, probeDocker: probe });
    assert.deepEqual(sources(plan), { kafka: 'local', postgres: 'local', redis: 'local' });
    assert.equal(probe.calls, 1);
    assert.equal(plan.docker, NO_ENGINE);
    assert.match(plan.choices[0]!.why, /^MFSIM_TEST_KAFKA_BROKERS is unset, no Docker engine \(no socket at \/var\/run\/docker\.sock\): a broker the test runner starts/);
    assert.match(plan.choices[1]!.why, /the machine's PostgreSQL \(postgresql:\/\/postgres@127\.0\.0\.1:5432\/postgres\)$/);
  });

  it('uses containers for the unset variables when a Docker engine answers, and the set ones as they are', async () => {
    const probe = fakeProbe(ENGINE);
    const plan = await planTestServers({ env: { MFSIM_TEST_KAFKA_BROKERS: '127.0.0.1:19092' }, probeDocker: probe });
    assert.deepEqual(sources(plan), { kafka: 'env', postgres: 'container', redis: 'container' });
    assert.equal(probe.calls, 1);
    assert.match(plan.choices[2]!.why, /MFSIM_TEST_REDIS_URL is unset and a Docker engine answers at unix:\/\/\/var\/run\/docker\.sock: a container/);
  });

  it('uses containers for all three when nothing is set and a Docker engine answers', async () => {
    const plan = await planTestServers({ env: {}, probeDocker: fakeProbe(ENGINE) });
    assert.deepEqual(sources(plan), { kafka: 'container', postgres: 'container', redis: 'container' });
  });

  it('never asks Docker when MFSIM_TEST_NO_CONTAINERS=1, and uses the local servers', async () => {
    const probe = fakeProbe(ENGINE);
    const plan = await planTestServers({ env: { [NO_CONTAINERS_ENV]: '1', MFSIM_TEST_REDIS_URL: 'redis://127.0.0.1:6380' }, probeDocker: probe });
    assert.deepEqual(sources(plan), { kafka: 'local', postgres: 'local', redis: 'env' });
    assert.equal(probe.calls, 0);
    assert.equal(plan.containersOptedOut, true);
    assert.match(plan.choices[0]!.why, /MFSIM_TEST_KAFKA_BROKERS is unset, MFSIM_TEST_NO_CONTAINERS=1: /);
  });

  it('treats an empty or blank variable as unset', async () => {
    const plan = await planTestServers({ env: { MFSIM_TEST_KAFKA_BROKERS: '', MFSIM_TEST_REDIS_URL: '  ' }, probeDocker: fakeProbe(NO_ENGINE) });
    assert.deepEqual(sources(plan), { kafka: 'local', postgres: 'local', redis: 'local' });
  });

  it('plans only the servers asked for', async () => {
    const probe = fakeProbe(ENGINE);
    const plan = await planTestServers({ env: { MFSIM_TEST_KAFKA_BROKERS: '127.0.0.1:19092' }, kinds: ['kafka'], probeDocker: probe });
    assert.deepEqual(sources(plan), { kafka: 'env' });
    assert.equal(probe.calls, 0);
  });

  it('names the variable of each server', () => {
    assert.deepEqual(TEST_SERVER_ENV, { kafka: 'MFSIM_TEST_KAFKA_BROKERS', postgres: 'MFSIM_TEST_DATABASE_URL', redis: 'MFSIM_TEST_REDIS_URL' });
  });
});

describe('containersOptedOut', () => {
  it('is true for 1, true and yes only', () => {
    for (const v of ['1', 'true', 'TRUE', 'yes', ' 1 ']) assert.equal(containersOptedOut({ [NO_CONTAINERS_ENV]: v }), true, v);
    for (const v of [undefined, '', '0', 'false', 'no']) assert.equal(containersOptedOut({ [NO_CONTAINERS_ENV]: v }), false, String(v));
  });
});

describe('redactPassword', () => {
  it('hides a URL password and leaves everything else alone', () => {
    assert.equal(redactPassword('redis://:pw@127.0.0.1:6379'), 'redis://:***@127.0.0.1:6379');
    assert.equal(redactPassword('postgresql://postgres@127.0.0.1:5432/postgres'), 'postgresql://postgres@127.0.0.1:5432/postgres');
    assert.equal(redactPassword('127.0.0.1:19092,127.0.0.1:19094'), '127.0.0.1:19092,127.0.0.1:19094');
  });
});
