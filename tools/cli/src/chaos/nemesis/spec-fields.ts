/**
 * Field readers for the fault kinds of this folder (network.ts, app.ts): each names the plan's
 * field in its PlanError (`faults[2].latencyMs: …`).
 */
import { FaultSpec, PlanError } from './fault';

/** A duration: a number of ms, or a string `250ms`, `5s`, `2m`. */
export function durationMs(value: unknown, field: string): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/.exec(value.trim());
    if (m) return Math.round(Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1));
  }
  throw new PlanError(field, `expected a duration (ms as an integer, or "250ms", "5s", "2m"), got ${JSON.stringify(value)}`);
}

/** An integer field with a default and bounds. */
export function intField(raw: Record<string, unknown>, path: string, name: string, dflt: number | undefined, min: number, max: number): number {
  const v = raw[name];
  if (v === undefined) {
    if (dflt === undefined) throw new PlanError(`${path}.${name}`, 'is required');
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new PlanError(`${path}.${name}`, `expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

/** A duration field in ms (number or "5s") with a default and bounds. */
export function msField(raw: Record<string, unknown>, path: string, name: string, dflt: number | undefined, min: number, max: number): number {
  const v = raw[name];
  if (v === undefined) {
    if (dflt === undefined) throw new PlanError(`${path}.${name}`, 'is required');
    return dflt;
  }
  const ms = durationMs(v, `${path}.${name}`);
  if (ms < min || ms > max) throw new PlanError(`${path}.${name}`, `expected ${min} to ${max} ms, got ${ms}`);
  return ms;
}

/** Refuses fields a kind does not know (a typo must not silently change nothing). */
export function onlyFields(raw: Record<string, unknown>, path: string, allowed: readonly string[]): void {
  const known = new Set(['kind', 'target', 'at', 'for', 'atMs', 'forMs', ...allowed]);
  for (const key of Object.keys(raw)) if (!known.has(key)) throw new PlanError(`${path}.${key}`, `unknown field for kind ${String(raw['kind'])} (fields: ${['target', 'at', 'for', ...allowed].join(', ')})`);
}

/** The fields every fault has: kind, target (a string), at and for (durations). */
export function baseSpec(raw: Record<string, unknown>, path: string): FaultSpec {
  const target = raw['target'];
  if (typeof target !== 'string' || target.trim() === '') throw new PlanError(`${path}.target`, 'expected a target name');
  const atMs = durationMs(raw['atMs'] ?? raw['at'], `${path}.at`);
  const forMs = durationMs(raw['forMs'] ?? raw['for'], `${path}.for`);
  if (forMs <= 0) throw new PlanError(`${path}.for`, 'expected a duration > 0');
  return { kind: String(raw['kind']), target: target.trim(), atMs, forMs };
}

/** Whether the signal was aborted; resolves after `ms` otherwise. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
