import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { chooseTraceExporter } from './trace-exporter';

describe('chooseTraceExporter (OTEL_TRACES_EXPORTER)', () => {
  it('zipkin and otlp as asked, whatever the case and spaces', () => {
    assert.deepEqual(chooseTraceExporter({ OTEL_TRACES_EXPORTER: 'zipkin' }), { exporter: 'zipkin' });
    assert.deepEqual(chooseTraceExporter({ OTEL_TRACES_EXPORTER: ' Zipkin ' }), { exporter: 'zipkin' });
    assert.deepEqual(chooseTraceExporter({ OTEL_TRACES_EXPORTER: 'otlp' }), { exporter: 'otlp' });
    // An explicit choice wins over an OTLP endpoint that is also set.
    assert.deepEqual(chooseTraceExporter({ OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' }), { exporter: 'zipkin' });
  });

  it('none is off, even with an OTLP endpoint set', () => {
    assert.deepEqual(chooseTraceExporter({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' }), { exporter: 'off' });
  });

  it('unset: otlp when an OTLP endpoint is set (the rule before OTEL_TRACES_EXPORTER), else off', () => {
    assert.deepEqual(chooseTraceExporter({}), { exporter: 'off' });
    assert.deepEqual(chooseTraceExporter({ OTEL_TRACES_EXPORTER: '' }), { exporter: 'off' });
    assert.deepEqual(chooseTraceExporter({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' }), { exporter: 'otlp' });
    assert.deepEqual(chooseTraceExporter({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://x:4318/v1/traces' }), { exporter: 'otlp' });
    // A Zipkin endpoint alone does not switch tracing on: the exporter must be named.
    assert.deepEqual(chooseTraceExporter({ OTEL_EXPORTER_ZIPKIN_ENDPOINT: 'http://x:9411/api/v2/spans' }), { exporter: 'off' });
  });

  it('anything else is off, with a one-line reason', () => {
    for (const value of ['jaeger', 'console', 'otlp,zipkin']) {
      const choice = chooseTraceExporter({ OTEL_TRACES_EXPORTER: value });
      assert.equal(choice.exporter, 'off');
      assert.ok('problem' in choice && choice.problem);
      assert.equal(choice.problem, `OTEL_TRACES_EXPORTER="${value}" is not one of otlp, zipkin, none: tracing is off`);
    }
  });
});
