/**
 * The five services as detached Node processes (docs/conventions.md, "Runtime configuration"):
 *   node --require libs/telemetry/dist/register.js services/<name>/dist/main.js
 * each with HTTP_PORT, KAFKA_BROKERS, DATABASE_URL, REDIS_URL, its log file and its pid file.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync } from 'node:fs';

import { isProcessAlive } from '@mfsim/testing';

import { ServiceConfig, StackConfig } from './config';

export interface HealthResult {
  /** HTTP status, or undefined when nothing answered. */
  status?: number;
  /** "ok", "error (kafka: down: …)", "unreachable", … */
  summary: string;
}

/** GET /health on 127.0.0.1:port. */
export async function checkHealth(port: number, timeoutMs = 2_000): Promise<HealthResult> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    return { status: res.status, summary: summarizeHealth(res.status, text) };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    return { summary: cause === 'ECONNREFUSED' ? 'unreachable' : `no answer (${cause ?? (err as Error).name})` };
  }
}

/** "200 ok" or "503 error: kafka down (…)" from a /health answer. */
export function summarizeHealth(status: number, body: string): string {
  let parsed: { status?: string; checks?: Record<string, { status?: string; error?: string }> } | undefined;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  if (!parsed) return `${status} ${body.slice(0, 60).replace(/\s+/g, ' ')}`;
  const down = Object.entries(parsed.checks ?? {})
    .filter(([, c]) => c?.status !== 'up')
    .map(([name, c]) => `${name} ${c?.status ?? '?'}${c?.error ? ` (${c.error})` : ''}`);
  return `${status} ${parsed.status ?? '?'}${down.length > 0 ? `: ${down.join(', ')}` : ''}`;
}

/** The environment a service gets. */
export function serviceEnv(config: StackConfig, service: ServiceConfig, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    KAFKA_BROKERS: `127.0.0.1:${config.kafka.port}`,
    DATABASE_URL: config.databaseUrl,
    REDIS_URL: config.redisUrl,
    MFSIM_TOPIC_PREFIX: config.topicPrefix,
    HTTP_PORT: String(service.port),
    OTEL_SERVICE_NAME: service.name,
    // The output goes to a log file: no terminal colours in it.
    NO_COLOR: '1',
  };
  if (config.redisPrefix !== undefined) env['MFSIM_REDIS_PREFIX'] = config.redisPrefix;
  return env;
}

/** The node arguments that run a service (telemetry preloaded when it is built). */
export function serviceArgs(config: StackConfig, service: ServiceConfig): string[] {
  return existsSync(config.telemetryRegister) ? ['--require', config.telemetryRegister, service.mainJs] : [service.mainJs];
}

/** Starts one service detached, its output in its log file (truncated). Returns its pid. */
export function startService(config: StackConfig, service: ServiceConfig): number {
  const out = openSync(service.logFile, 'w');
  try {
    const child = spawn(process.execPath, serviceArgs(config, service), {
      cwd: config.root,
      env: serviceEnv(config, service, process.env),
      stdio: ['ignore', out, out],
      detached: true,
    });
    if (child.pid === undefined) throw new Error(`could not start ${service.name}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}

export type WaitOutcome = { ok: true; ms: number } | { ok: false; reason: string };

/**
 * Polls /health until 200, the process exits, or the deadline passes. `onWaiting` gets the last
 * answer now and then, for progress.
 */
export async function waitForHealthy(p: { pid: number; port: number; deadline: number; startedAt: number; signal: AbortSignal; onWaiting?: (last: string) => void }): Promise<WaitOutcome> {
  let last = 'no answer yet';
  let nextNote = Date.now() + 10_000;
  for (;;) {
    if (p.signal.aborted) return { ok: false, reason: 'interrupted' };
    if (!isProcessAlive(p.pid)) return { ok: false, reason: `process ${p.pid} exited (last health: ${last})` };
    const h = await checkHealth(p.port, 1_500);
    if (h.status === 200) return { ok: true, ms: Date.now() - p.startedAt };
    last = h.summary;
    if (Date.now() > p.deadline) return { ok: false, reason: `not healthy after ${Math.round((Date.now() - p.startedAt) / 1000)} s (last health: ${last})` };
    if (Date.now() > nextNote) {
      p.onWaiting?.(last);
      nextNote = Date.now() + 10_000;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
}
