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
 * Runs every check concurrently; each check bounds its own wait (KafkaHealth, pingPostgres and
 * pingRedis all time out). A check that throws is reported down, never propagated. The report is
 * `ok` only when every check is up.
 */
export async function runHealthChecks(service: string, checks: Record<string, HealthCheck>): Promise<HealthReport> {
  const entries = await Promise.all(
    Object.entries(checks).map(async ([name, check]) => {
      const result = await check().catch((error: unknown) => down(`${name}: ${errorMessage(error)}`));
      return [name, result] as const;
    }),
  );
  return {
    status: entries.every(([, result]) => result.status === 'up') ? 'ok' : 'error',
    service,
    checks: Object.fromEntries(entries),
  };
}
