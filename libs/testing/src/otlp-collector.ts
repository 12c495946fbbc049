/**
 * A tiny OTLP/HTTP collector for integration tests: a node:http server on 127.0.0.1 (a port the
 * OS picks) that accepts what an OpenTelemetry SDK exports and keeps it in memory, so a test can
 * start services as child processes with `OTEL_EXPORTER_OTLP_ENDPOINT=<collector.url>` and assert
 * on the spans they send.
 *
 *   const collector = await startOtlpCollector();
 *   after(() => collector.close());
 *   const span = await collector.waitForSpan((s) => s.name === 'pmem_pagemap_memory_failure', { timeoutMs: 30_000 });
 *
 * - `POST /v1/traces` with `application/json` (OTLP/JSON, what @opentelemetry/exporter-trace-otlp-http
 *   sends) is decoded into flat {@link CollectedSpan}s: hex ids, plain attribute values, the
 *   resource's attributes on every span.
 * - Anything else (protobuf, `/v1/metrics`, `/v1/logs`, an unknown path) is answered 200 and
 *   recorded in {@link OtlpCollector.requests}, undecoded, so a test can still see that it came.
 * - `Content-Encoding: gzip` / `deflate` bodies are inflated first.
 */
import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { gunzipSync, inflateSync } from 'node:zlib';

/** OTLP `Span.SpanKind` numbers (opentelemetry-proto trace.proto). */
export const OtlpSpanKind = {
  UNSPECIFIED: 0,
  INTERNAL: 1,
  SERVER: 2,
  CLIENT: 3,
  PRODUCER: 4,
  CONSUMER: 5,
} as const;

/** An attribute value, decoded from OTLP's AnyValue. int64 values beyond 2^53 stay strings. */
export type OtlpValue = string | number | boolean | null | OtlpValue[] | { [key: string]: OtlpValue };

/** One span as received, flattened with its resource and instrumentation scope. */
export interface CollectedSpan {
  /** 32 lower-case hex digits */
  traceId: string;
  /** 16 lower-case hex digits */
  spanId: string;
  /** 16 lower-case hex digits; undefined for a root span */
  parentSpanId?: string;
  name: string;
  /** {@link OtlpSpanKind} */
  kind: number;
  attributes: Record<string, OtlpValue>;
  /** the resource's attributes (`service.name`, …) */
  resource: Record<string, OtlpValue>;
  scope: { name: string; version?: string };
  startTimeUnixNano?: string;
  endTimeUnixNano?: string;
  /** OTLP status code: 0 unset, 1 ok, 2 error */
  statusCode: number;
  /** index into {@link OtlpCollector.requests} of the request that carried it */
  request: number;
}

/** One request the collector answered, decoded or not. */
export interface CollectedRequest {
  method: string;
  path: string;
  contentType: string;
  contentEncoding: string;
  /** body size as received (before inflating) */
  bytes: number;
  /** true when it was OTLP/JSON on /v1/traces and its spans are in {@link OtlpCollector.spans} */
  decoded: boolean;
  /** why a body that looked like OTLP/JSON could not be read */
  error?: string;
  receivedAt: number;
}

export interface WaitOptions {
  /** default 30 s */
  timeoutMs?: number;
  /** default 100 ms */
  intervalMs?: number;
  /** named in the timeout error */
  what?: string;
}

export interface OtlpCollector {
  /** `http://127.0.0.1:<port>`: the value for OTEL_EXPORTER_OTLP_ENDPOINT */
  readonly url: string;
  /** `<url>/v1/traces`: the value for OTEL_EXPORTER_OTLP_TRACES_ENDPOINT */
  readonly tracesUrl: string;
  readonly port: number;
  /** every request, in arrival order */
  readonly requests: readonly CollectedRequest[];
  /** every decoded span, in arrival order */
  readonly spans: readonly CollectedSpan[];
  /**
   * Polls `probe` until it returns something other than undefined (returned), or throws after
   * the deadline with `what` and a summary of what did arrive.
   */
  waitFor<T>(probe: (collector: OtlpCollector) => T | undefined, options?: WaitOptions): Promise<T>;
  /** The first span matching `predicate`, waiting for it as {@link waitFor} does. */
  waitForSpan(predicate: (span: CollectedSpan) => boolean, options?: WaitOptions): Promise<CollectedSpan>;
  /** A one-line summary of what arrived: requests per path and content type, spans per service. */
  summary(): string;
  /** Stops listening and closes open connections; safe to call twice. */
  close(): Promise<void>;
}

export interface StartOtlpCollectorOptions {
  /** default 127.0.0.1 */
  host?: string;
  /** default 0: a free port the OS picks */
  port?: number;
  /** largest body accepted (413 above it); default 16 MiB */
  maxBodyBytes?: number;
}

/** Starts the collector and resolves once it listens. */
export async function startOtlpCollector(options: StartOtlpCollectorOptions = {}): Promise<OtlpCollector> {
  const host = options.host ?? '127.0.0.1';
  const maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const requests: CollectedRequest[] = [];
  const spans: CollectedSpan[] = [];

  const server = createServer((req, res) => {
    readBody(req, maxBodyBytes).then(
      (body) => answer(req, res, body),
      (error: unknown) => {
        requests.push(describeRequest(req, 0, false, errorMessage(error)));
        reply(res, 413, 'text/plain', errorMessage(error));
      },
    );
  });

  const answer = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const contentType = header(req, 'content-type').toLowerCase();
    if (req.method !== 'POST') {
      requests.push(describeRequest(req, body.length, false));
      reply(res, 405, 'text/plain', 'only POST');
      return;
    }
    if (path === '/v1/traces' && contentType.startsWith('application/json')) {
      const index = requests.length;
      try {
        const decoded = decodeTraces(JSON.parse(inflate(body, header(req, 'content-encoding')).toString('utf8')), index);
        requests.push(describeRequest(req, body.length, true));
        spans.push(...decoded);
        reply(res, 200, 'application/json', '{}');
      } catch (error) {
        requests.push(describeRequest(req, body.length, false, errorMessage(error)));
        reply(res, 400, 'application/json', JSON.stringify({ code: 3, message: errorMessage(error) }));
      }
      return;
    }
    // Protobuf, metrics, logs, …: kept as "it came", answered as a collector would.
    requests.push(describeRequest(req, body.length, false));
    if (contentType.startsWith('application/json')) reply(res, 200, 'application/json', '{}');
    else reply(res, 200, 'application/x-protobuf', Buffer.alloc(0)); // an empty Export*ServiceResponse
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port: options.port ?? 0 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host}:${port}`;

  let closed: Promise<void> | undefined;
  const collector: OtlpCollector = {
    url,
    tracesUrl: `${url}/v1/traces`,
    port,
    requests,
    spans,
    async waitFor<T>(probe: (c: OtlpCollector) => T | undefined, wait: WaitOptions = {}): Promise<T> {
      const timeoutMs = wait.timeoutMs ?? 30_000;
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const value = probe(collector);
        if (value !== undefined) return value;
        if (Date.now() >= deadline) {
          throw new Error(`OTLP collector: timed out after ${timeoutMs} ms waiting for ${wait.what ?? 'a match'}; received ${collector.summary()}`);
        }
        await new Promise((resolve) => setTimeout(resolve, wait.intervalMs ?? 100));
      }
    },
    waitForSpan(predicate: (span: CollectedSpan) => boolean, wait: WaitOptions = {}): Promise<CollectedSpan> {
      return collector.waitFor((c) => c.spans.find(predicate), { what: 'a matching span', ...wait });
    },
    summary(): string {
      const byRequest = count(requests.map((r) => `${r.method} ${r.path} ${r.contentType || '-'}${r.error ? ` (${r.error})` : ''}`));
      const byService = count(spans.map((s) => String(s.resource['service.name'] ?? '?')));
      return `${requests.length} request(s) [${byRequest}], ${spans.length} span(s) [${byService}]`;
    },
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
  return collector;
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) chunks.push(chunk);
    });
    req.once('end', () => (size > maxBytes ? reject(new Error(`body of ${size} bytes is over ${maxBytes}`)) : resolve(Buffer.concat(chunks))));
    req.once('error', reject);
  });
}

function reply(res: ServerResponse, status: number, contentType: string, body: string | Buffer): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function header(req: IncomingMessage, name: string): string {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}

function describeRequest(req: IncomingMessage, bytes: number, decoded: boolean, error?: string): CollectedRequest {
  return {
    method: req.method ?? '?',
    path: (req.url ?? '/').split('?')[0] ?? '/',
    contentType: header(req, 'content-type'),
    contentEncoding: header(req, 'content-encoding'),
    bytes,
    decoded,
    ...(error === undefined ? {} : { error }),
    receivedAt: Date.now(),
  };
}

function inflate(body: Buffer, encoding: string): Buffer {
  switch (encoding.trim().toLowerCase()) {
    case '':
    case 'identity':
      return body;
    case 'gzip':
      return gunzipSync(body);
    case 'deflate':
      return inflateSync(body);
    default:
      throw new Error(`unsupported content-encoding ${encoding}`);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function count(items: string[]): string {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(item, (counts.get(item) ?? 0) + 1);
  return [...counts].map(([item, n]) => `${item} ×${n}`).join(', ');
}

// ---- OTLP/JSON decoding (opentelemetry-proto, JSON mapping as the OTLP spec defines it) ---------

type Json = Record<string, unknown>;

const SPAN_KIND_NAMES: Record<string, number> = {
  SPAN_KIND_UNSPECIFIED: OtlpSpanKind.UNSPECIFIED,
  SPAN_KIND_INTERNAL: OtlpSpanKind.INTERNAL,
  SPAN_KIND_SERVER: OtlpSpanKind.SERVER,
  SPAN_KIND_CLIENT: OtlpSpanKind.CLIENT,
  SPAN_KIND_PRODUCER: OtlpSpanKind.PRODUCER,
  SPAN_KIND_CONSUMER: OtlpSpanKind.CONSUMER,
};

const STATUS_CODE_NAMES: Record<string, number> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

function asObject(value: unknown, what: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${what} is not an object`);
  return value as Json;
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** An `ExportTraceServiceRequest` in OTLP/JSON → flat spans. */
export function decodeTraces(body: unknown, request = 0): CollectedSpan[] {
  const spans: CollectedSpan[] = [];
  for (const rs of asArray(asObject(body, 'request body').resourceSpans)) {
    const resourceSpans = asObject(rs, 'resourceSpans[]');
    const resource = decodeAttributes((resourceSpans.resource as Json | undefined)?.attributes);
    for (const ss of asArray(resourceSpans.scopeSpans)) {
      const scopeSpans = asObject(ss, 'scopeSpans[]');
      const scopeJson = (scopeSpans.scope ?? {}) as Json;
      const scope = {
        name: String(scopeJson.name ?? ''),
        ...(typeof scopeJson.version === 'string' && scopeJson.version ? { version: scopeJson.version } : {}),
      };
      for (const s of asArray(scopeSpans.spans)) {
        const span = asObject(s, 'spans[]');
        const parentSpanId = span.parentSpanId ? decodeId(span.parentSpanId, 8) : undefined;
        spans.push({
          traceId: decodeId(span.traceId, 16),
          spanId: decodeId(span.spanId, 8),
          ...(parentSpanId ? { parentSpanId } : {}),
          name: String(span.name ?? ''),
          kind: decodeEnum(span.kind, SPAN_KIND_NAMES),
          attributes: decodeAttributes(span.attributes),
          resource,
          scope,
          ...(span.startTimeUnixNano === undefined ? {} : { startTimeUnixNano: String(span.startTimeUnixNano) }),
          ...(span.endTimeUnixNano === undefined ? {} : { endTimeUnixNano: String(span.endTimeUnixNano) }),
          statusCode: decodeEnum((span.status as Json | undefined)?.code, STATUS_CODE_NAMES),
          request,
        });
      }
    }
  }
  return spans;
}

/**
 * OTLP/JSON writes trace and span ids as hex; a generic protobuf-JSON encoder would write base64.
 * Either way the result is lower-case hex of `bytes` bytes.
 */
function decodeId(value: unknown, bytes: number): string {
  const text = String(value ?? '');
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(text)) return text.toLowerCase();
  const raw = Buffer.from(text, 'base64');
  if (raw.length === bytes) return raw.toString('hex');
  throw new Error(`"${text}" is not a ${bytes}-byte id`);
}

function decodeEnum(value: unknown, names: Record<string, number>): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string') return names[value] ?? (Number.isInteger(Number(value)) ? Number(value) : -1);
  return 0;
}

function decodeAttributes(list: unknown): Record<string, OtlpValue> {
  const out: Record<string, OtlpValue> = {};
  for (const item of asArray(list)) {
    const kv = asObject(item, 'attribute');
    out[String(kv.key)] = decodeValue(kv.value);
  }
  return out;
}

function decodeValue(value: unknown): OtlpValue {
  if (typeof value !== 'object' || value === null) return null;
  const v = value as Json;
  if ('stringValue' in v) return String(v.stringValue);
  if ('boolValue' in v) return Boolean(v.boolValue);
  if ('intValue' in v) {
    const n = Number(v.intValue);
    return Number.isSafeInteger(n) ? n : String(v.intValue);
  }
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('bytesValue' in v) return String(v.bytesValue);
  if ('arrayValue' in v) return asArray((v.arrayValue as Json | undefined)?.values).map(decodeValue);
  if ('kvlistValue' in v) return decodeAttributes((v.kvlistValue as Json | undefined)?.values);
  return null;
}
