/**
 * Waiting for things to come up: a generic poll with a deadline (waitFor) and a service's
 * `GET /health` (docs/conventions.md: 200 ok, or 503 naming the check that is down).
 */
import { isProcessAlive, sleep } from './processes';

/**
 * Polls `probe` until it returns something other than undefined, or rejects naming `what` once
 * `timeoutMs` has passed. A rejected promise from the probe counts as "not yet"; a synchronous
 * throw ends the wait at once (a probe's way to give up, e.g. when the process died).
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await Promise.resolve(probe()).catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

export interface HealthResult {
  /** HTTP status, or undefined when nothing answered. */
  status?: number;
  /** "200 ok", "503 error: kafka down (…)", "unreachable", … */
  summary: string;
}

/** GET /health on host:port (default 127.0.0.1, where the services listen by default). */
export async function checkHealth(port: number, timeoutMs = 2_000, host = '127.0.0.1'): Promise<HealthResult> {
  try {
    const res = await fetch(`http://${host}:${port}/health`, { signal: AbortSignal.timeout(timeoutMs) });
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

export type WaitOutcome = { ok: true; ms: number } | { ok: false; reason: string };

/**
 * Polls the /health of the service process `pid` on `port` until 200, the process exits, the
 * deadline passes or `signal` aborts. `onWaiting` gets the last answer every 10 s, for progress.
 */
export async function waitForHealthy(p: {
  pid: number;
  port: number;
  deadline: number;
  startedAt: number;
  signal?: AbortSignal;
  onWaiting?: (last: string) => void;
}): Promise<WaitOutcome> {
  let last = 'no answer yet';
  let nextNote = Date.now() + 10_000;
  for (;;) {
    if (p.signal?.aborted) return { ok: false, reason: 'interrupted' };
    if (!isProcessAlive(p.pid)) return { ok: false, reason: `process ${p.pid} exited (last health: ${last})` };
    const h = await checkHealth(p.port, 1_500);
    if (h.status === 200) return { ok: true, ms: Date.now() - p.startedAt };
    last = h.summary;
    if (Date.now() > p.deadline) return { ok: false, reason: `not healthy after ${Math.round((Date.now() - p.startedAt) / 1000)} s (last health: ${last})` };
    if (Date.now() > nextNote) {
      p.onWaiting?.(last);
      nextNote = Date.now() + 10_000;
    }
    await sleep(300);
  }
}
