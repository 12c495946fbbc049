/**
 * The mfsim services as real processes, started the way `mfsim stack` and the Dockerfiles start
 * them (`node --require libs/telemetry/dist/register.js services/<name>/dist/main.js`):
 *   - startDetachedProcess: in its own session, output in a log file, outliving the caller
 *     (`mfsim stack up`; also how it starts its redis-server);
 *   - startServiceProcess: a child of the caller with its output captured (integration tests).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import * as path from 'node:path';

import { REPO_ROOT } from './kafka-broker';

/** libs/telemetry/dist/register.js: the OTel bootstrap every service is started with. */
export const TELEMETRY_REGISTER = path.join(REPO_ROOT, 'libs', 'telemetry', 'dist', 'register.js');

/** services/<name>/dist/main.js under `root` (default: this repository). */
export function serviceMainJs(name: string, root: string = REPO_ROOT): string {
  return path.join(root, 'services', name, 'dist', 'main.js');
}

/** The node arguments that run `mainJs`, with `register` preloaded when that file exists. */
export function serviceNodeArgs(mainJs: string, register: string = TELEMETRY_REGISTER): string[] {
  return existsSync(register) ? ['--require', register, mainJs] : [mainJs];
}

/**
 * Starts `command args` in its own session (it outlives this process), stdout and stderr in
 * `logFile` (truncated first). Returns its pid. Throws when the command cannot be started.
 */
export function startDetachedProcess(p: { command: string; args: string[]; logFile: string; cwd?: string; env?: NodeJS.ProcessEnv }): number {
  mkdirSync(path.dirname(p.logFile), { recursive: true });
  const out = openSync(p.logFile, 'w');
  try {
    const child = spawn(p.command, p.args, { cwd: p.cwd, env: p.env ?? process.env, stdio: ['ignore', out, out], detached: true });
    // A command that does not exist fails asynchronously ('error'), after pid is known to be undefined.
    child.once('error', () => undefined);
    if (child.pid === undefined) throw new Error(`could not start ${p.command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}

export interface RunningService<N extends string = string> {
  readonly name: N;
  readonly port: number;
  readonly child: ChildProcess;
  /** stdout and stderr lines, in arrival order */
  readonly lines: string[];
  readonly startedAt: number;
}

/** Spawns services/<name>/dist/main.js with the telemetry preload on `port`, capturing its output. */
export function startServiceProcess<N extends string>(name: N, port: number, env: NodeJS.ProcessEnv): RunningService<N> {
  const child = spawn(process.execPath, ['--require', TELEMETRY_REGISTER, serviceMainJs(name)], {
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
