import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';

import { Attr } from './attributes';
import { withSpan } from './with-span';

describe('withSpan', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });

  before(() => trace.setGlobalTracerProvider(provider));
  beforeEach(() => exporter.reset());
  after(async () => {
    trace.disable();
    await provider.shutdown();
  });

  it('ends an INTERNAL span named after the kernel function and returns the result', async () => {
    const result = await withSpan('xfs_dax_notify_failure', { [Attr.DAX_OFFSET]: '4096' }, () => 7);
    assert.equal(result, 7);
    const [span] = exporter.getFinishedSpans();
    assert.equal(span?.name, 'xfs_dax_notify_failure');
    assert.equal(span?.kind, SpanKind.INTERNAL);
    assert.equal(span?.attributes[Attr.DAX_OFFSET], '4096');
    assert.equal(span?.status.code, SpanStatusCode.UNSET);
  });

  it('records a thrown error, sets status ERROR and error.type, ends the span and rethrows', async () => {
    const failure = Object.assign(new Error('rmapbt missing'), { errno: 'EOPNOTSUPP' });
    await assert.rejects(
      withSpan('xfs_dax_notify_failure', {}, async () => {
        throw failure;
      }),
      failure,
    );
    const [span] = exporter.getFinishedSpans();
    assert.equal(span?.status.code, SpanStatusCode.ERROR);
    assert.equal(span?.attributes[Attr.ERROR_TYPE], 'EOPNOTSUPP');
    assert.equal(span?.events[0]?.name, 'exception');
  });

  it('uses the error class name as error.type when there is no errno', async () => {
    await assert.rejects(withSpan('dax_holder_notify_failure', {}, () => Promise.reject(new TypeError('x'))));
    assert.equal(exporter.getFinishedSpans()[0]?.attributes[Attr.ERROR_TYPE], 'TypeError');
  });
});
