import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { hostPort, isLocalHost, loadStackConfig, StackError } from './config';
import { serviceArgs, serviceEnv, summarizeHealth } from './services';
import { formatTable } from './status';

describe('stack configuration', () => {
  it('uses the documented defaults', () => {
    const c = loadStackConfig({}, { root: '/repo' });
    assert.equal(c.kafka.port, 19092);
    assert.equal(c.kafka.controllerPort, 19093);
    assert.equal(c.kafka.dataDir, '/repo/.mfsim/stack/kafka');
    assert.equal(c.databaseUrl, 'postgresql://postgres@127.0.0.1:5432/mfsim');
    assert.equal(c.redisUrl, 'redis://127.0.0.1:6379');
    assert.deepEqual(
      c.services.map((s) => [s.name, s.port, s.logFile]),
      [
        ['pmem-driver', 7101, '/repo/.mfsim/stack/pmem-driver.log'],
        ['dax-core', 7102, '/repo/.mfsim/stack/dax-core.log'],
        ['dm-mapper', 7103, '/repo/.mfsim/stack/dm-mapper.log'],
        ['xfs-fs', 7104, '/repo/.mfsim/stack/xfs-fs.log'],
        ['mm-process', 7105, '/repo/.mfsim/stack/mm-process.log'],
      ],
    );
  });

  it('takes the Kafka ports from the environment', () => {
    const c = loadStackConfig({ MFSIM_KAFKA_PORT: '29092', MFSIM_KAFKA_CONTROLLER_PORT: '29093' });
    assert.deepEqual([c.kafka.port, c.kafka.controllerPort], [29092, 29093]);
  });

  it('rejects bad values with exit code 2 and a one-line message', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ MFSIM_KAFKA_PORT: 'abc' }, /^MFSIM_KAFKA_PORT=abc is not a TCP port \(1-65535\)$/],
      [{ MFSIM_KAFKA_PORT: '70000' }, /is not a TCP port/],
      [{ MFSIM_KAFKA_PORT: '19093' }, /both 19093/],
      [{ DATABASE_URL: 'mysql://x/y' }, /DATABASE_URL=mysql:\/\/x\/y must start with postgresql:\/\/ or postgres:\/\//],
      [{ REDIS_URL: 'not a url' }, /REDIS_URL=not a url is not a URL/],
      [{ MFSIM_KAFKA_HEAP_MB: '64' }, /must be an integer >= 128/],
    ];
    for (const [env, message] of bad) {
      assert.throws(
        () => loadStackConfig(env),
        (err: Error) => err instanceof StackError && err.exitCode === 2 && message.test(err.message) && !err.message.includes('\n'),
      );
    }
  });

  it('reads host and port from URLs', () => {
    assert.deepEqual(hostPort('redis://127.0.0.1', 6379), { host: '127.0.0.1', port: 6379 });
    assert.deepEqual(hostPort('postgresql://u@localhost:5433/mfsim', 5432), { host: 'localhost', port: 5433 });
    assert.equal(isLocalHost('localhost'), true);
    assert.equal(isLocalHost('db.example'), false);
  });
});

describe('service processes', () => {
  const config = loadStackConfig({ MFSIM_KAFKA_PORT: '29092', MFSIM_TOPIC_PREFIX: 'run1.', MFSIM_REDIS_PREFIX: 'r1:' }, { root: '/repo' });
  const xfs = config.services.find((s) => s.name === 'xfs-fs')!;

  it('get the stack addresses, their port and their name', () => {
    const env = serviceEnv(config, xfs, { PATH: '/bin', KAFKA_BROKERS: 'elsewhere:9092' });
    assert.equal(env['KAFKA_BROKERS'], '127.0.0.1:29092');
    assert.equal(env['HTTP_PORT'], '7104');
    assert.equal(env['OTEL_SERVICE_NAME'], 'xfs-fs');
    assert.equal(env['MFSIM_TOPIC_PREFIX'], 'run1.');
    assert.equal(env['MFSIM_REDIS_PREFIX'], 'r1:');
    assert.equal(env['DATABASE_URL'], 'postgresql://postgres@127.0.0.1:5432/mfsim');
    assert.equal(env['PATH'], '/bin');
  });

  it('run main.js (with the telemetry bootstrap only when it is built)', () => {
    assert.deepEqual(serviceArgs({ ...config, telemetryRegister: '/nonexistent/register.js' }, xfs), ['/repo/services/xfs-fs/dist/main.js']);
  });

  it('summarize /health answers', () => {
    assert.equal(summarizeHealth(200, '{"status":"ok","service":"xfs-fs","checks":{"kafka":{"status":"up"}}}'), '200 ok');
    assert.equal(
      summarizeHealth(503, '{"status":"error","checks":{"kafka":{"status":"up"},"redis":{"status":"down","error":"ECONNREFUSED"}}}'),
      '503 error: redis down (ECONNREFUSED)',
    );
    assert.equal(summarizeHealth(404, 'Cannot GET /health'), '404 Cannot GET /health');
  });
});

describe('status table', () => {
  it('aligns the columns', () => {
    const row = (component: string, pid: string, port: string, health: string) => ({ component, pid, port, health, expected: true, healthy: true });
    assert.equal(
      formatTable([row('kafka', '123', '19092', 'ok'), row('mm-process', '-', '7105', 'not running')]),
      ['COMPONENT   PID  PORT   HEALTH', 'kafka       123  19092  ok', 'mm-process  -    7105   not running'].join('\n'),
    );
  });
});
