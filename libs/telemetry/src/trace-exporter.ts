/**
 * Which span exporter a service uses, from the OpenTelemetry SDK's standard variables (pure: no
 * SDK is loaded here, so register.js can decide before it loads anything).
 *
 *   OTEL_TRACES_EXPORTER=zipkin  Zipkin v2 JSON to OTEL_EXPORTER_ZIPKIN_ENDPOINT
 *                                (default http://localhost:9411/api/v2/spans); `mfsim stack up`
 *   OTEL_TRACES_EXPORTER=otlp    OTLP/HTTP to OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT; docker-compose
 *   OTEL_TRACES_EXPORTER=none    tracing off
 *   unset                        otlp when an OTLP endpoint is set, else off (as before)
 *
 * The SDK allows a comma-separated list; mfsim exports to one backend, so a list is refused.
 */
export type TraceExporterKind = 'otlp' | 'zipkin';

export const TRACE_EXPORTERS = ['otlp', 'zipkin', 'none'] as const;

export type TraceExporterChoice =
  | { readonly exporter: TraceExporterKind }
  /** Tracing off; `problem` is a one-line reason to print when the setting was not understood. */
  | { readonly exporter: 'off'; readonly problem?: string };

export function chooseTraceExporter(env: Readonly<Record<string, string | undefined>>): TraceExporterChoice {
  const raw = env['OTEL_TRACES_EXPORTER']?.trim().toLowerCase() ?? '';
  if (raw === '') return env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ? { exporter: 'otlp' } : { exporter: 'off' };
  if (raw === 'none') return { exporter: 'off' };
  if (raw === 'otlp' || raw === 'zipkin') return { exporter: raw };
  return {
    exporter: 'off',
    problem: `OTEL_TRACES_EXPORTER=${JSON.stringify(env['OTEL_TRACES_EXPORTER'])} is not one of ${TRACE_EXPORTERS.join(', ')}: tracing is off`,
  };
}
