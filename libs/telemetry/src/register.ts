/**
 * Telemetry bootstrap, loaded before the service with
 * `node --require libs/telemetry/dist/register.js services/<name>/dist/main.js`, so that the
 * instrumentations patch kafkajs, pg, ioredis, Nest and http before anything requires them.
 *
 * The exporter comes from the SDK's standard OTEL_TRACES_EXPORTER (trace-exporter.ts): `zipkin`
 * (Zipkin v2 JSON to OTEL_EXPORTER_ZIPKIN_ENDPOINT, what `mfsim stack up` sets), `otlp` (OTLP/HTTP,
 * what docker-compose sets) or `none`; unset means otlp when OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is set. Otherwise tracing is off and nothing is loaded or
 * patched at all. Everything else comes from OTEL_* variables (OTEL_SERVICE_NAME,
 * defaulting to the services/<name> folder of the script; OTEL_RESOURCE_ATTRIBUTES, OTEL_BSP_*,
 * OTEL_PROPAGATORS, …); metrics and logs only when OTEL_METRICS_EXPORTER / OTEL_LOGS_EXPORTER ask
 * for them.
 */
import type { NodeSDK } from '@opentelemetry/sdk-node';
import type { SpanExporter } from '@opentelemetry/sdk-trace';

import { chooseTraceExporter, type TraceExporterKind } from './trace-exporter';

/**
 * OTEL_SERVICE_NAME defaults to the service's folder name (docs/conventions.md), read from the
 * script being started: `.../services/<name>/dist/main.js`.
 */
function defaultServiceName(env: NodeJS.ProcessEnv, script: string | undefined): void {
  const folder = /[\\/]services[\\/]([^\\/]+)[\\/]dist[\\/]/.exec(script ?? '')?.[1];
  if (!env.OTEL_SERVICE_NAME && folder) {
    env.OTEL_SERVICE_NAME = folder;
  }
}

/** The span exporter of `kind`, required only now (a disabled bootstrap loads neither). */
function traceExporter(kind: TraceExporterKind): SpanExporter {
  /* eslint-disable @typescript-eslint/no-require-imports */
  if (kind === 'zipkin') {
    const { ZipkinExporter } = require('@opentelemetry/exporter-zipkin') as typeof import('@opentelemetry/exporter-zipkin');
    return new ZipkinExporter(); // OTEL_EXPORTER_ZIPKIN_ENDPOINT
  }
  const { OTLPTraceExporter } =
    require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return new OTLPTraceExporter();
}

function startSdk(env: NodeJS.ProcessEnv, exporter: TraceExporterKind): NodeSDK {
  // Required here, not imported at the top, so a disabled bootstrap loads nothing; and required
  // synchronously, because the instrumentations must hook require() before main.js runs.
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { NodeSDK } = require('@opentelemetry/sdk-node') as typeof import('@opentelemetry/sdk-node');
  const { getNodeAutoInstrumentations } =
    require('@opentelemetry/auto-instrumentations-node') as typeof import('@opentelemetry/auto-instrumentations-node');
  const { PrismaInstrumentation } = require('@prisma/instrumentation') as typeof import('@prisma/instrumentation');
  /* eslint-enable @typescript-eslint/no-require-imports */

  const sdk = new NodeSDK({
    traceExporter: traceExporter(exporter),
    ...(env.OTEL_METRICS_EXPORTER ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER ? {} : { logRecordProcessors: [] }),
    instrumentations: [
      getNodeAutoInstrumentations({
        // fs, dns and net add a span per file or socket operation and bury the kernel call graph.
        '@opentelemetry/instrumentation-fs': { enabled: false },
        '@opentelemetry/instrumentation-dns': { enabled: false },
        '@opentelemetry/instrumentation-net': { enabled: false },
        '@opentelemetry/instrumentation-http': {
          // Health checks and Prometheus scrapes are not part of any failure's story.
          ignoreIncomingRequestHook: (request) => request.url === '/health' || request.url === '/metrics',
        },
      }),
      // Prisma spans (operation level) on top of pg spans (SQL level): both kept on purpose.
      new PrismaInstrumentation(),
    ],
  });
  sdk.start();
  return sdk;
}

/**
 * Flushes and stops the SDK on SIGTERM/SIGINT without cutting the application's own shutdown
 * short. When the app handles the signal too (Nest's enableShutdownHooks re-raises it once it has
 * closed), the app decides when the process ends; otherwise the signal is re-raised once the SDK
 * has flushed, so the process still dies of it.
 */
function stopSdkOnSignals(sdk: NodeSDK): void {
  let flushed: Promise<void> | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    const appHandlesSignal = process.listenerCount(signal) > 1;
    const firstSignal = flushed === undefined;
    flushed ??= sdk.shutdown().catch((error: unknown) => {
      console.error(`telemetry: shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    void flushed.then(() => {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
      if (!firstSignal || !appHandlesSignal) {
        process.kill(process.pid, signal);
      }
    });
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

const choice = chooseTraceExporter(process.env);
if (choice.exporter === 'off') {
  if (choice.problem) console.error(`telemetry: ${choice.problem}`);
} else {
  defaultServiceName(process.env, process.argv[1]);
  stopSdkOnSignals(startSdk(process.env, choice.exporter));
}
