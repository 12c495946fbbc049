import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { DEFAULT_HTTP_HOST, parseServiceEnv } from './env';

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
    });
    assert.ok(result.success);
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
});

describe('HTTP_HOST', () => {
  it('is unset by default, so a service listens on DEFAULT_HTTP_HOST (127.0.0.1), not on every interface', () => {
    const result = parseServiceEnv(identity, {});
    assert.ok(result.success);
    assert.equal(result.env.HTTP_HOST, undefined);
    assert.equal(DEFAULT_HTTP_HOST, '127.0.0.1');
  });

  it('reads the address compose gives, and refuses one with whitespace', () => {
    const result = parseServiceEnv(identity, { HTTP_HOST: '0.0.0.0' });
    assert.ok(result.success);
    assert.equal(result.env.HTTP_HOST, '0.0.0.0');
    assert.deepEqual(parseServiceEnv(identity, { HTTP_HOST: 'a b' }), {
      success: false,
      message: 'xfs-fs: invalid configuration: HTTP_HOST: expected a host name or an IP address',
    });
  });
});
