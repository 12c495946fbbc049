import { Attributes, Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';

import { Attr } from './attributes';

const tracer = trace.getTracer('mfsim');

/**
 * Runs `fn` inside an INTERNAL span named after the kernel function it models
 * (`xfs_dax_notify_failure`), so a trace reads like the kernel's call graph. A thrown error is
 * recorded on the span (exception event, status ERROR, `error.type`) and rethrown; the span ends in
 * every case. Without a registered SDK the span is a no-op and costs next to nothing.
 */
export async function withSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => Promise<T> | T,
): Promise<T> {
  return tracer.startActiveSpan(name, { kind: SpanKind.INTERNAL, attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (error) {
      markSpanFailed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * Records `error` on `span` the same way everywhere: exception event, status ERROR and
 * `error.type` (an errno name when the error carries one, else the error's class name).
 */
export function markSpanFailed(span: Span, error: unknown): void {
  const err = error instanceof Error ? error : new Error(String(error));
  span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
  span.setAttribute(Attr.ERROR_TYPE, errorType(err));
}

function errorType(error: Error): string {
  const errno = (error as { errno?: unknown }).errno;
  return typeof errno === 'string' && errno.length > 0 ? errno : error.name;
}
