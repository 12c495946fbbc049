import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { DEFAULT_TEST_DATABASE_ADMIN_URL, DEFAULT_TEST_REDIS_URL, TEST_ENV, testDatabaseAdminUrl, testKafkaBrokers, testRedisUrl, uniqueId } from './env';

describe('test environment', () => {
  let saved: Record<string, string | undefined>;
  beforeEach(() => {
    saved = Object.fromEntries(Object.values(TEST_ENV).map((k) => [k, process.env[k]]));
    for (const k of Object.values(TEST_ENV)) delete process.env[k];
  });
  afterEach(() => {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('fails with a message that says how to get a broker when MFSIM_TEST_KAFKA_BROKERS is unset', () => {
    assert.throws(() => testKafkaBrokers(), /MFSIM_TEST_KAFKA_BROKERS is not set\. Run integration tests with `npm test`/);
  });

  it('splits and checks the broker list', () => {
    process.env[TEST_ENV.kafkaBrokers] = ' 127.0.0.1:29092, localhost:29094 ';
    assert.deepEqual(testKafkaBrokers(), ['127.0.0.1:29092', 'localhost:29094']);
    process.env[TEST_ENV.kafkaBrokers] = '127.0.0.1';
    assert.throws(() => testKafkaBrokers(), /"127\.0\.0\.1" is not host:port/);
  });

  it('defaults PostgreSQL and Redis to the local servers', () => {
    assert.equal(testDatabaseAdminUrl(), DEFAULT_TEST_DATABASE_ADMIN_URL);
    assert.equal(testRedisUrl(), DEFAULT_TEST_REDIS_URL);
    process.env[TEST_ENV.redisUrl] = 'redis://127.0.0.1:6380';
    assert.equal(testRedisUrl(), 'redis://127.0.0.1:6380');
  });

  it('makes distinct ids that are valid topic names', () => {
    const ids = new Set(Array.from({ length: 200 }, () => uniqueId('My Test_1')));
    assert.equal(ids.size, 200);
    for (const id of ids) assert.match(id, /^my-test-1-[a-z0-9]+-[0-9a-f]{8}$/);
    assert.match(uniqueId('***'), /^it-/);
  });
});
