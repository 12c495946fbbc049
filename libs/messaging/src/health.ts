/** One dependency's health, in the shape `GET /health` reports it. */
export type HealthCheckResult = { status: 'up' } | { status: 'down'; error: string };

export const UP: HealthCheckResult = Object.freeze({ status: 'up' });

export function down(error: string): HealthCheckResult {
  return { status: 'down', error };
}
