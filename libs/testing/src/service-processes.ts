/**
 * Starting the mfsim services as real child processes in integration tests, the way
 * `mfsim stack` and the Dockerfiles start them (`node --require register.js main.js`), and
 * polling them with a deadline.
 */
import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

import { REPO_ROOT } from './kafka-broker';

const REGISTER = path.join(REPO_ROOT, 'libs', 'telemetry', 'dist', 'register.js');

export interface RunningService<N extends string = string> {
  readonly name: N;
  readonly port: number;
  readonly child: ChildProcess;
  /** stdout and stderr lines, in arrival order */
  readonly lines: string[];
  readonly startedAt: number;
}

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

/** Spawns services/<name>/dist/main.js with the telemetry preload on `port`, capturing its output. */
export function startServiceProcess<N extends string>(name: N, port: number, env: NodeJS.ProcessEnv): RunningService<N> {
  const main = path.join(REPO_ROOT, 'services', name, 'dist', 'main.js');
  const child = spawn(process.execPath, ['--require', REGISTER, main], {
    cwd: REPO_ROOT,
    env: { ...env, HTTP_PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const service: RunningService<N> = { name, port, child, lines: [], startedAt: Date.now() };
  for (const stream of [child.stdout, child.stderr]) {
    let rest = '';
    stream.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop() ?? '';
      service.lines.push(...parts);
    });
  }
  return service;
}

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
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
