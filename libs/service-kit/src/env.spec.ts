import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { parseServiceEnv } from './env';

const identity = { service: 'xfs-fs', defaultHttpPort: 7104 };

describe('parseServiceEnv', () => {
  it('fills every default from docs/conventions.md, with the service its own HTTP port', () => {
    assert.deepEqual(parseServiceEnv(identity, {}), {
      success: true,
      env: {
        KAFKA_BROKERS: ['127.0.0.1:19092'],
        DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/mfsim',
        REDIS_URL: 'redis://127.0.0.1:6379',
        MFSIM_TOPIC_PREFIX: '',
        MFSIM_REDIS_PREFIX: 'mfsim:',
        HTTP_PORT: 7104,
        HTTP_HOST: '127.0.0.1',
        MFSIM_METRICS: 'on',
      },
    });
  });

  it('reads the settings it is given', () => {
    const result = parseServiceEnv(identity, {
      KAFKA_BROKERS: 'a:1, b:2',
      DATABASE_URL: 'postgres://u@db:5432/x',
      REDIS_URL: 'rediss://cache:6380',
      MFSIM_TOPIC_PREFIX: 'run-1.',
      MFSIM_REDIS_PREFIX: 'run-1:',
      HTTP_PORT: '8080',
      HTTP_HOST: '0.0.0.0',
    });
    assert.ok(result.success);
    assert.equal(result.env.HTTP_HOST, '0.0.0.0');
    assert.deepEqual(result.env.KAFKA_BROKERS, ['a:1', 'b:2']);
    assert.equal(result.env.HTTP_PORT, 8080);
    assert.equal(result.env.MFSIM_TOPIC_PREFIX, 'run-1.');
  });

  it('names every bad variable in one line prefixed by the service', () => {
    assert.deepEqual(
      parseServiceEnv(identity, { HTTP_PORT: 'seventy', KAFKA_BROKERS: '127.0.0.1', DATABASE_URL: 'mysql://db/x' }),
      {
        success: false,
        message:
          'xfs-fs: invalid configuration: KAFKA_BROKERS.0: expected host:port; DATABASE_URL: expected a postgresql:// URL; ' +
          'HTTP_PORT: Invalid input: expected number, received NaN',
      },
    );
    assert.deepEqual(parseServiceEnv(identity, { REDIS_URL: 'http://x', MFSIM_TOPIC_PREFIX: 'a b' }), {
      success: false,
      message:
        'xfs-fs: invalid configuration: REDIS_URL: expected a redis:// URL; ' +
        'MFSIM_TOPIC_PREFIX: Kafka names allow only letters, digits, ".", "_" and "-"',
    });
  });

  it('turns metrics off with MFSIM_METRICS=off and refuses anything but on/off in one line', () => {
    const off = parseServiceEnv(identity, { MFSIM_METRICS: 'off' });
    assert.equal(off.success && off.env.MFSIM_METRICS, 'off');
    assert.deepEqual(parseServiceEnv(identity, { MFSIM_METRICS: 'yes' }), {
      success: false,
      message: 'xfs-fs: invalid configuration: MFSIM_METRICS: expected on or off',
    });
  });
});
