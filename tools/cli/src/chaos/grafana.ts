/**
 * Chaos faults as Grafana annotations: a fault window (start → end) becomes one region
 * annotation tagged `chaos`, its kind and its target, which the "mfsim chaos" dashboard draws
 * over the propagation graphs. The chaos runner calls this when it is given a Grafana URL.
 */

export interface FaultWindow {
  /** The fault kind, e.g. `kill`, `pause`, `partition`. */
  readonly kind: string;
  /** What it hit, e.g. `xfs-fs` or `xfs-fs#2`. */
  readonly target: string;
  /** Epoch milliseconds. */
  readonly startMs: number;
  readonly endMs: number;
}

export interface GrafanaOptions {
  /** A service-account token (Authorization: Bearer). User:password in the URL works too. */
  readonly token?: string;
  readonly timeoutMs?: number;
  /** For tests: the fetch to use. */
  readonly fetch?: typeof fetch;
}

/** A refused annotation: one line saying why (never a stack trace for the operator). */
export class GrafanaError extends Error {
  override readonly name = 'GrafanaError';
}

/** The tags every fault annotation carries; the chaos dashboard's annotation query filters on CHAOS_TAG. */
export const CHAOS_TAG = 'chaos';

/**
 * Posts one region annotation for a fault window to Grafana's HTTP API (`POST /api/annotations`)
 * and returns its id. A bad URL or window, an unreachable Grafana or a refusal is a GrafanaError.
 */
export async function postFaultAnnotation(grafanaUrl: string, fault: FaultWindow, options: GrafanaOptions = {}): Promise<number> {
  let url: URL;
  try {
    url = new URL(grafanaUrl);
  } catch {
    throw new GrafanaError(`grafana: not a URL: ${JSON.stringify(grafanaUrl)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new GrafanaError(`grafana: expected an http(s) URL, got ${url.protocol}`);
  for (const k of ['kind', 'target'] as const) {
    if (typeof fault[k] !== 'string' || fault[k].trim() === '') throw new GrafanaError(`grafana: fault ${k} must be a non-empty string`);
  }
  for (const k of ['startMs', 'endMs'] as const) {
    if (!Number.isSafeInteger(fault[k]) || fault[k] < 0) throw new GrafanaError(`grafana: fault ${k} must be epoch milliseconds, got ${String(fault[k])}`);
  }
  if (fault.endMs < fault.startMs) throw new GrafanaError(`grafana: fault ends (${fault.endMs}) before it starts (${fault.startMs})`);

  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  else if (url.username) headers.authorization = `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  url.username = '';
  url.password = '';
  const base = url.href.replace(/\/+$/, '');
  const body = {
    time: fault.startMs,
    timeEnd: fault.endMs,
    tags: [CHAOS_TAG, fault.kind, fault.target],
    text: `chaos: ${fault.kind} on ${fault.target} (${((fault.endMs - fault.startMs) / 1000).toFixed(1)} s)`,
  };
  const doFetch = options.fetch ?? fetch;
  let res: Response;
  try {
    res = await doFetch(`${base}/api/annotations`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? 5000),
    });
  } catch (err) {
    const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    throw new GrafanaError(`grafana: cannot reach ${base}: ${cause}`);
  }
  const text = await res.text();
  if (!res.ok) throw new GrafanaError(`grafana: POST ${base}/api/annotations answered ${res.status}: ${text.slice(0, 200).replace(/\s+/g, ' ')}`);
  let id: unknown;
  try {
    id = (JSON.parse(text) as { id?: unknown }).id;
  } catch {
    id = undefined;
  }
  if (typeof id !== 'number') throw new GrafanaError(`grafana: POST ${base}/api/annotations answered without an annotation id: ${text.slice(0, 200)}`);
  return id;
}
