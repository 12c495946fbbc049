/** The environment a service started by an integration test gets. */

/**
 * The test runner's environment for a child service: NO_COLOR, and none of the OTEL_* variables
 * (telemetry stays off unless a test sets it) nor node:test's own marker.
 */
export function serviceEnvWithoutTelemetry(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
  for (const name of Object.keys(env)) {
    if (name.startsWith('OTEL_') || name === 'NODE_TEST_CONTEXT') delete env[name];
  }
  return { ...env, ...extra };
}
