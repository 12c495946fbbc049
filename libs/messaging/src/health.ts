import { errorMessage } from './logger';

/** One dependency's health, in the shape `GET /health` reports it. */
export type HealthCheckResult = { status: 'up' } | { status: 'down'; error: string };

export const UP: HealthCheckResult = Object.freeze({ status: 'up' });

export function down(error: string): HealthCheckResult {
  return { status: 'down', error };
}

export type HealthCheck = () => Promise<HealthCheckResult>;

export interface HealthReport {
  status: 'ok' | 'error';
  service: string;
  checks: Record<string, HealthCheckResult>;
}

/**
 * Runs every check concurrently, each bounded by `timeoutMs` (a check that throws or hangs is
 * reported down, never propagated). The report is `ok` only when every check is up.
 */
export async function runHealthChecks(
  service: string,
  checks: Record<string, HealthCheck>,
  timeoutMs = 2000,
): Promise<HealthReport> {
  const names = Object.keys(checks);
  const results = await Promise.all(names.map((name) => checkWithin(name, checks[name] as HealthCheck, timeoutMs)));
  const entries = names.map((name, index) => [name, results[index] as HealthCheckResult] as const);
  return {
    status: results.every((result) => result.status === 'up') ? 'ok' : 'error',
    service,
    checks: Object.fromEntries(entries),
  };
}

async function checkWithin(name: string, check: HealthCheck, timeoutMs: number): Promise<HealthCheckResult> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<HealthCheckResult>((resolve) => {
    timer = setTimeout(() => resolve(down(`${name}: no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([check().catch((error: unknown) => down(`${name}: ${errorMessage(error)}`)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
