import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { hostPort, isLocalHost, loadStackConfig, parseReplicas, StackError } from './config';
import { parseUp } from './index';
import { serviceArgs, serviceEnv } from './services';
import { formatTable } from './status';

describe('stack configuration', () => {
  it('uses the documented defaults', () => {
    const c = loadStackConfig({}, { root: '/repo' });
    assert.equal(c.kafka.port, 19092);
    assert.equal(c.kafka.controllerPort, 19093);
    assert.equal(c.kafka.dataDir, '/repo/.mfsim/stack/kafka');
    assert.equal(c.databaseUrl, 'postgresql://postgres@127.0.0.1:5432/mfsim');
    assert.equal(c.redisUrl, 'redis://127.0.0.1:16379');
    assert.deepEqual(c.ownRedis, {
      port: 16379,
      dataDir: '/repo/.mfsim/stack/redis',
      logFile: '/repo/.mfsim/stack/redis.log',
      pidFile: '/repo/.mfsim/stack/redis.pid',
      appendfsync: 'always',
    });
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

  it('runs its own Redis on MFSIM_REDIS_PORT, or none when REDIS_URL or --redis-url names one', () => {
    const own = loadStackConfig({ MFSIM_REDIS_PORT: '26379' });
    assert.equal(own.redisUrl, 'redis://127.0.0.1:26379');
    assert.equal(own.ownRedis?.port, 26379);
    const env = loadStackConfig({ REDIS_URL: 'redis://127.0.0.1:6379' });
    assert.equal(env.redisUrl, 'redis://127.0.0.1:6379');
    assert.equal(env.ownRedis, undefined);
    const flag = loadStackConfig({ REDIS_URL: 'redis://127.0.0.1:6379' }, { redisUrl: 'redis://10.0.0.5:6380' });
    assert.equal(flag.redisUrl, 'redis://10.0.0.5:6380');
    assert.equal(flag.ownRedis, undefined);
    assert.equal(loadStackConfig({}, { redisUrl: 'rediss://cache:6380' }).redisUrl, 'rediss://cache:6380');
    assert.throws(() => loadStackConfig({}, { redisUrl: 'http://x' }), /^StackError: --redis-url=http:\/\/x must start with redis:\/\/ or rediss:\/\/$/);
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
      [{ MFSIM_REDIS_PORT: '19092' }, /^MFSIM_REDIS_PORT and MFSIM_KAFKA_PORT are both 19092$/],
      [{ MFSIM_HTTP_PORT_BASE: 'x' }, /^MFSIM_HTTP_PORT_BASE=x is not a TCP port/],
      [{ MFSIM_HTTP_PORT_BASE: '16374' }, /^mm-process would listen on 16379, which MFSIM_REDIS_PORT uses: set MFSIM_HTTP_PORT_BASE$/],
      [{ MFSIM_HTTP_PORT_BASE: '65532' }, /MFSIM_HTTP_PORT_BASE=65532 is too high/],
      [{ MFSIM_REPLICAS: 'xfs-fs=0' }, /^MFSIM_REPLICAS: xfs-fs=0: the count must be an integer from 1 to 16$/],
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

describe('replicas', () => {
  it('parse SERVICE=COUNT lists; services not named run once', () => {
    assert.deepEqual(parseReplicas('xfs-fs=2, mm-process=3', '--replicas'), { 'pmem-driver': 1, 'dax-core': 1, 'dm-mapper': 1, 'xfs-fs': 2, 'mm-process': 3 });
    assert.deepEqual(parseReplicas('', 'MFSIM_REPLICAS'), { 'pmem-driver': 1, 'dax-core': 1, 'dm-mapper': 1, 'xfs-fs': 1, 'mm-process': 1 });
    assert.equal(parseReplicas('pmem-driver=16', 'x')['pmem-driver'], 16);
  });

  it('reject bad syntax with one line naming the problem, exit 2', () => {
    const bad: [string, string][] = [
      ['xfs-fs=0', '--replicas: xfs-fs=0: the count must be an integer from 1 to 16'],
      ['xfs-fs=17', '--replicas: xfs-fs=17: the count must be an integer from 1 to 16'],
      ['xfs-fs=two', '--replicas: xfs-fs=two: the count must be an integer from 1 to 16'],
      ['xfs-fs=1.5', '--replicas: xfs-fs=1.5: the count must be an integer from 1 to 16'],
      ['xfs-fs=', '--replicas: xfs-fs=: the count must be an integer from 1 to 16'],
      ['foo=2', '--replicas: unknown service "foo" (one of pmem-driver, dax-core, dm-mapper, xfs-fs, mm-process)'],
      ['xfs-fs', '--replicas: "xfs-fs" is not SERVICE=COUNT (e.g. xfs-fs=2,mm-process=2)'],
      ['xfs-fs=2,', '--replicas: "" is not SERVICE=COUNT (e.g. xfs-fs=2,mm-process=2)'],
      ['xfs-fs=2,xfs-fs=3', '--replicas: xfs-fs is given twice'],
    ];
    for (const [text, message] of bad) {
      assert.throws(
        () => parseReplicas(text, '--replicas'),
        (err: Error) => err instanceof StackError && err.exitCode === 2 && err.message === message,
        text,
      );
    }
  });

  it('each get their own port, log and pid file; the --replicas flag wins over MFSIM_REPLICAS', () => {
    const c = loadStackConfig({ MFSIM_REPLICAS: 'dax-core=3', MFSIM_HTTP_PORT_BASE: '27100' }, { root: '/repo', replicas: 'xfs-fs=2,mm-process=2' });
    assert.deepEqual(
      c.services.map((s) => [s.id, s.replica, s.port, s.logFile.replace('/repo/.mfsim/stack/', ''), s.pidFile.replace('/repo/.mfsim/stack/', '')]),
      [
        ['pmem-driver', 1, 27101, 'pmem-driver.log', 'pmem-driver.pid'],
        ['dax-core', 1, 27102, 'dax-core.log', 'dax-core.pid'],
        ['dm-mapper', 1, 27103, 'dm-mapper.log', 'dm-mapper.pid'],
        ['xfs-fs-1', 1, 27104, 'xfs-fs-1.log', 'xfs-fs-1.pid'],
        ['xfs-fs-2', 2, 27114, 'xfs-fs-2.log', 'xfs-fs-2.pid'],
        ['mm-process-1', 1, 27105, 'mm-process-1.log', 'mm-process-1.pid'],
        ['mm-process-2', 2, 27115, 'mm-process-2.log', 'mm-process-2.pid'],
      ],
    );
    assert.equal(loadStackConfig({ MFSIM_REPLICAS: 'dax-core=3' }).services.filter((s) => s.name === 'dax-core').length, 3);
  });
});

describe('stack up options', () => {
  it('take --replicas, --redis-url and --timeout, as "--flag value" or "--flag=value"', () => {
    assert.deepEqual(parseUp(['--replicas', 'xfs-fs=2', '--redis-url=redis://127.0.0.1:6379', '--timeout', '30', '--no-services']), {
      services: false,
      load: { replicas: 'xfs-fs=2', redisUrl: 'redis://127.0.0.1:6379', timeoutMs: 30_000 },
    });
  });

  it('--own-postgres: a PostgreSQL of the stack on MFSIM_POSTGRES_PORT, and DATABASE_URL points at it', () => {
    assert.deepEqual(parseUp(['--own-postgres']), { services: true, load: { ownPostgres: true } });
    const c = loadStackConfig({ MFSIM_POSTGRES_PORT: '15532', DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/mine' }, { ownPostgres: true, stackDir: '/tmp/s' });
    assert.deepEqual(c.ownPostgres, { port: 15532, dataDir: '/tmp/s/pg', logFile: '/tmp/s/postgres.log' });
    assert.equal(c.databaseUrl, 'postgresql://postgres@127.0.0.1:15532/mine');
    assert.equal(loadStackConfig({}, { ownPostgres: true }).ownPostgres?.port, 15432);
    const shared = loadStackConfig({ DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/mine' }, { stackDir: '/tmp/s' });
    assert.equal(shared.ownPostgres, undefined);
    assert.equal(shared.databaseUrl, 'postgresql://postgres@127.0.0.1:5432/mine');
    assert.throws(() => loadStackConfig({ MFSIM_POSTGRES_PORT: 'x' }, { ownPostgres: true }), /MFSIM_POSTGRES_PORT=x is not a TCP port/);
  });

  it('reject a missing value or an unknown option (exit 2)', () => {
    assert.throws(() => parseUp(['--replicas']), (err: Error) => err instanceof StackError && err.exitCode === 2 && err.message === '--replicas needs a value');
    assert.throws(() => parseUp(['--timeout', 'soon']), /--timeout needs a number of seconds, got soon/);
    assert.throws(() => parseUp(['--replica', 'x=1']), /^StackError: unknown option for stack up: --replica\n/);
  });
});

describe('service processes', () => {
  const config = loadStackConfig({ MFSIM_KAFKA_PORT: '29092', MFSIM_TOPIC_PREFIX: 'run1.', MFSIM_REDIS_PREFIX: 'r1:' }, { root: '/repo' });
  const xfs = config.services.find((s) => s.name === 'xfs-fs')!;

  it('get the stack addresses, their port and their name', () => {
    const env = serviceEnv(config, xfs, { PATH: '/bin', KAFKA_BROKERS: 'elsewhere:9092' });
    assert.equal(env['KAFKA_BROKERS'], '127.0.0.1:29092');
    assert.equal(env['HTTP_PORT'], '7104');
    assert.equal(env['REDIS_URL'], 'redis://127.0.0.1:16379', "the stack's own Redis");
    assert.equal(env['OTEL_SERVICE_NAME'], 'xfs-fs');
    assert.equal(env['MFSIM_TOPIC_PREFIX'], 'run1.');
    assert.equal(env['MFSIM_REDIS_PREFIX'], 'r1:');
    assert.equal(env['DATABASE_URL'], 'postgresql://postgres@127.0.0.1:5432/mfsim');
    assert.equal(env['PATH'], '/bin');
  });

  it('run main.js (with the telemetry bootstrap only when it is built)', () => {
    assert.deepEqual(serviceArgs({ ...config, telemetryRegister: '/nonexistent/register.js' }, xfs), ['/repo/services/xfs-fs/dist/main.js']);
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
