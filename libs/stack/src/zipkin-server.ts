/**
 * Starts a real Zipkin server (the trace backend of `mfsim stack up` and of the trace tests) as a
 * child JVM, from the `exec` jar that deploy/zipkin/fetch.sh puts in deploy/zipkin/target:
 * in-memory storage, bound to 127.0.0.1, only the HTTP collector (POST /api/v2/spans) and the
 * query API and UI (/api/v2/…, /zipkin/) on one port. Ready once GET /health says UP.
 *
 * Everything here acts on the one pid it started (or that the caller recorded).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { REPO_ROOT } from './kafka-broker';
import { assertPortsFree, isProcessAlive, processCommandLine, sleep, tailFile, terminateProcess, TerminateResult } from './processes';

/** deploy/zipkin: pom.xml, VERSION, fetch.sh. */
export const ZIPKIN_DEPLOY_DIR = path.join(REPO_ROOT, 'deploy', 'zipkin');

/** The port Zipkin listens on by default (and `mfsim stack up` unless MFSIM_ZIPKIN_PORT). */
export const DEFAULT_ZIPKIN_PORT = 9411;

/** An Error whose message is meant to be shown to a person as is. */
export class ZipkinServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipkinServerError';
  }
}

/** The Zipkin version in deploy/zipkin/VERSION (the one place it is written). */
export function zipkinVersion(): string {
  return readFileSync(path.join(ZIPKIN_DEPLOY_DIR, 'VERSION'), 'utf8').trim();
}

/** deploy/zipkin/target/zipkin-server-<version>-exec.jar */
export function zipkinJar(): string {
  return path.join(ZIPKIN_DEPLOY_DIR, 'target', `zipkin-server-${zipkinVersion()}-exec.jar`);
}

export function zipkinJarPresent(): boolean {
  return existsSync(zipkinJar());
}

/**
 * Makes sure the server jar is there, running deploy/zipkin/fetch.sh (Maven) if it is not.
 * Returns the jar. Throws a ZipkinServerError if fetching fails.
 */
export function ensureZipkinJar(opts: { log?: (line: string) => void } = {}): string {
  if (zipkinJarPresent()) return zipkinJar();
  const fetch = path.join(ZIPKIN_DEPLOY_DIR, 'fetch.sh');
  opts.log?.(`Zipkin ${zipkinVersion()} jar missing: running deploy/zipkin/fetch.sh (Maven)...`);
  const result = spawnSync('bash', [fetch], { cwd: REPO_ROOT, encoding: 'utf8' });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`.trim();
  if (result.status !== 0 || !zipkinJarPresent()) {
    const last = output.split('\n').slice(-5).join(' | ');
    throw new ZipkinServerError(`could not fetch the Zipkin server jar (deploy/zipkin/fetch.sh exited ${result.status ?? result.signal}): ${last}`);
  }
  if (output) output.split('\n').forEach((line) => opts.log?.(line));
  return zipkinJar();
}

/** Where a service exports its spans to a Zipkin on `port` (OTEL_EXPORTER_ZIPKIN_ENDPOINT). */
export function zipkinSpansEndpoint(port: number, host = '127.0.0.1'): string {
  return `http://${host}:${port}/api/v2/spans`;
}

/** The Zipkin UI's page of one trace, with `{traceId}` left for traceUrl() to fill in. */
export function zipkinTraceUrlTemplate(port: number, host = '127.0.0.1'): string {
  return `http://${host}:${port}/zipkin/traces/{traceId}`;
}

export interface StartZipkinServerOptions {
  /** HTTP port on 127.0.0.1 (collector, API and UI). */
  port: number;
  /** Where the JVM's stdout+stderr go (truncated first). */
  logFile: string;
  /** Maximum Java heap in MiB. Default 256. */
  heapMb?: number;
  /** Spans kept in memory before the oldest traces are dropped (MEM_MAX_SPANS). Default 100000. */
  maxSpans?: number;
  /** How long to wait for /health to say UP. Default 120 s (a JVM start on 2 busy cores). */
  readyTimeoutMs?: number;
  /** Start the JVM in its own session so it outlives this process (`mfsim stack up`). Default false. */
  detached?: boolean;
  /** Aborting stops the server while it starts (startZipkinServer then rejects). */
  signal?: AbortSignal;
}

export interface ZipkinServerHandle {
  pid: number;
  port: number;
  /** http://127.0.0.1:<port> */
  url: string;
  /** OTEL_EXPORTER_ZIPKIN_ENDPOINT for the services: http://127.0.0.1:<port>/api/v2/spans */
  spansEndpoint: string;
  /** http://127.0.0.1:<port>/zipkin/traces/{traceId} */
  traceUrlTemplate: string;
  logFile: string;
  version: string;
  /** Milliseconds from spawning the JVM to /health UP. */
  startupMs: number;
  /** SIGTERM, then SIGKILL after 10 s. Only this pid. Safe to call twice. */
  stop(): Promise<TerminateResult>;
}

function findJava(): string {
  const candidates = [
    ...(process.env['JAVA_HOME'] ? [path.join(process.env['JAVA_HOME'], 'bin', 'java')] : []),
    ...(process.env['PATH'] ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'java')),
  ];
  const java = candidates.find((c) => existsSync(c));
  if (!java) throw new ZipkinServerError('java not found: the Zipkin server needs Java 17+ (set JAVA_HOME or put java on PATH)');
  return java;
}

/**
 * The JVM arguments and environment of a Zipkin server on `port` (pure). The environment is built
 * from scratch (PATH and JAVA_HOME only are kept), so a KAFKA_BOOTSTRAP_SERVERS or RABBIT_URI of
 * the caller cannot switch on a collector nobody asked for.
 */
export function zipkinServerCommand(p: { jar: string; port: number; heapMb?: number; maxSpans?: number; env?: NodeJS.ProcessEnv }): { args: string[]; env: NodeJS.ProcessEnv } {
  const base = p.env ?? process.env;
  const env: NodeJS.ProcessEnv = {
    PATH: base['PATH'] ?? '/usr/bin:/bin',
    ...(base['JAVA_HOME'] ? { JAVA_HOME: base['JAVA_HOME'] } : {}),
    STORAGE_TYPE: 'mem',
    MEM_MAX_SPANS: String(p.maxSpans ?? 100_000),
    QUERY_PORT: String(p.port),
    SELF_TRACING_ENABLED: 'false',
    COLLECTOR_KAFKA_ENABLED: 'false',
    COLLECTOR_RABBITMQ_ENABLED: 'false',
    COLLECTOR_ACTIVEMQ_ENABLED: 'false',
    COLLECTOR_PULSAR_ENABLED: 'false',
    COLLECTOR_SCRIBE_ENABLED: 'false',
  };
  const args = [
    `-Xmx${p.heapMb ?? 256}m`,
    '-Xms32m',
    // C1 only and the serial collector: it starts sooner and takes less CPU on 2 shared cores.
    '-XX:TieredStopAtLevel=1',
    '-XX:+UseSerialGC',
    '-Djava.awt.headless=true',
    '-jar',
    p.jar,
    // Listen on the loopback only (Armeria's port list, the first and only entry).
    `--armeria.ports[0].ip=127.0.0.1`,
    `--armeria.ports[0].port=${p.port}`,
    '--armeria.ports[0].protocols[0]=http',
  ];
  return { args, env };
}

/** Whether `pid` still runs a Zipkin server JVM (guards against a recycled pid). */
export function isZipkinServerProcess(pid: number): boolean {
  return isProcessAlive(pid) && /zipkin-server-[^ ]*-exec\.jar/.test(processCommandLine(pid) ?? '');
}

/** Stops the Zipkin server `pid` (SIGTERM, SIGKILL after `graceMs`). A pid that runs something else is left alone. */
export async function stopZipkinServer(pid: number, graceMs = 10_000): Promise<TerminateResult> {
  if (!isProcessAlive(pid)) return 'not-running';
  if (!isZipkinServerProcess(pid)) return 'not-ours';
  return terminateProcess(pid, { graceMs });
}

/** What GET /health answers: ok when Zipkin says UP. */
export async function probeZipkin(port: number, timeoutMs = 2_000, host = '127.0.0.1'): Promise<{ ok: boolean; detail: string }> {
  try {
    const r = await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const body = (await r.json().catch(() => ({}))) as { status?: unknown };
    const status = typeof body.status === 'string' ? body.status : `HTTP ${r.status}`;
    return { ok: r.status === 200 && status === 'UP', detail: status };
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    return { ok: false, detail: (cause as { code?: string }).code ?? (cause instanceof Error ? cause.message : String(cause)) };
  }
}

/** Starts a Zipkin server and waits until /health says UP. See StartZipkinServerOptions. */
export async function startZipkinServer(opts: StartZipkinServerOptions): Promise<ZipkinServerHandle> {
  if (!zipkinJarPresent()) {
    throw new ZipkinServerError(`the Zipkin ${zipkinVersion()} server jar is missing (${path.relative(process.cwd(), zipkinJar()) || zipkinJar()}): run deploy/zipkin/fetch.sh`);
  }
  const java = findJava();
  await assertPortsFree([{ port: opts.port, what: 'Zipkin' }]);
  const { args, env } = zipkinServerCommand({ jar: zipkinJar(), port: opts.port, heapMb: opts.heapMb, maxSpans: opts.maxSpans });
  const logFile = path.resolve(opts.logFile);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'w');
  const spawnedAt = Date.now();
  let child;
  try {
    child = spawn(java, args, { cwd: path.dirname(logFile), env, stdio: ['ignore', out, out], detached: opts.detached ?? false });
  } finally {
    closeSync(out);
  }
  child.once('error', () => undefined);
  if (child.pid === undefined) throw new ZipkinServerError(`could not start ${java}`);
  const pid = child.pid;
  if (opts.detached) child.unref();
  let exitCode: number | string | undefined;
  child.once('exit', (code, sig) => {
    exitCode = code ?? sig ?? 'unknown';
  });
  const stop = (): Promise<TerminateResult> => (exitCode === undefined ? stopZipkinServer(pid) : Promise.resolve('not-running' as const));

  const timeoutMs = opts.readyTimeoutMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    const problem =
      opts.signal?.aborted ? 'start aborted' : exitCode !== undefined ? `exited (${exitCode}) before it was ready` : Date.now() > deadline ? `not ready after ${Math.round(timeoutMs / 1000)} s (health: ${last})` : undefined;
    if (problem !== undefined) {
      await stop().catch(() => undefined);
      throw new ZipkinServerError(`Zipkin server ${problem}. Log ${logFile}, last lines:\n${tailFile(logFile, 20)}`);
    }
    const h = await probeZipkin(opts.port, 1_000);
    if (h.ok) break;
    last = h.detail;
    await sleep(250);
  }
  return {
    pid,
    port: opts.port,
    url: `http://127.0.0.1:${opts.port}`,
    spansEndpoint: zipkinSpansEndpoint(opts.port),
    traceUrlTemplate: zipkinTraceUrlTemplate(opts.port),
    logFile,
    version: zipkinVersion(),
    startupMs: Date.now() - spawnedAt,
    stop,
  };
}
