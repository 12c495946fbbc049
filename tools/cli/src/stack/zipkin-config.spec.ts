import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { loadStackConfig, StackError } from './config';
import { parseUp } from './index';
import { serviceEnv } from './services';

describe('stack: the Zipkin trace backend', () => {
  it('is on by default, on 9411, its log and pid file under .mfsim/stack', () => {
    const c = loadStackConfig({}, { root: '/repo' });
    assert.deepEqual(c.zipkin, { port: 9411, logFile: '/repo/.mfsim/stack/zipkin.log', pidFile: '/repo/.mfsim/stack/zipkin.pid' });
  });

  it('takes its port from MFSIM_ZIPKIN_PORT and refuses a clash or a bad port (exit 2, one line)', () => {
    assert.equal(loadStackConfig({ MFSIM_ZIPKIN_PORT: '19411' }).zipkin?.port, 19411);
    for (const [env, message] of [
      [{ MFSIM_ZIPKIN_PORT: 'abc' }, /^MFSIM_ZIPKIN_PORT=abc is not a TCP port/],
      [{ MFSIM_ZIPKIN_PORT: '19092' }, /^MFSIM_ZIPKIN_PORT and MFSIM_KAFKA_PORT are both 19092$/],
      [{ MFSIM_ZIPKIN_PORT: '7104' }, /^xfs-fs would listen on 7104, which MFSIM_ZIPKIN_PORT uses/],
    ] as const) {
      assert.throws(
        () => loadStackConfig(env),
        (err: unknown) => err instanceof StackError && err.exitCode === 2 && message.test(err.message) && !err.message.includes('\n'),
      );
    }
  });

  it('--no-traces starts none, and the port is then not checked', () => {
    assert.equal(parseUp(['--no-traces']).load.noTraces, true);
    assert.equal(parseUp([]).load.noTraces, undefined);
    assert.throws(() => parseUp(['--no-traces=yes']), /unknown option for stack up: --no-traces=yes/);
    assert.equal(loadStackConfig({ MFSIM_ZIPKIN_PORT: '19092' }, { noTraces: true }).zipkin, undefined);
  });

  it('the services export to it with OTEL_TRACES_EXPORTER=zipkin, and not at all with --no-traces', () => {
    const on = loadStackConfig({ MFSIM_ZIPKIN_PORT: '19411' }, { root: '/repo' });
    const env = serviceEnv(on, on.services[0]!, { PATH: '/bin' });
    assert.equal(env['OTEL_TRACES_EXPORTER'], 'zipkin');
    assert.equal(env['OTEL_EXPORTER_ZIPKIN_ENDPOINT'], 'http://127.0.0.1:19411/api/v2/spans');
    const off = loadStackConfig({}, { root: '/repo', noTraces: true });
    const offEnv = serviceEnv(off, off.services[0]!, { PATH: '/bin' });
    assert.equal(offEnv['OTEL_TRACES_EXPORTER'], undefined);
    assert.equal(offEnv['OTEL_EXPORTER_ZIPKIN_ENDPOINT'], undefined);
  });
});
