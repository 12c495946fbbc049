/**
 * Starts a real redis-server that keeps what it acknowledged: append-only file (AOF) on, in a data
 * dir of its own, bound to 127.0.0.1. `mfsim stack up` runs the services' Redis this way, so a
 * Redis restart (or a crash of the redis-server process) does not lose their state.
 *
 * Durability choice: `appendfsync always` (the default here): Redis appends each write to the AOF
 * and fsyncs it before it replies, so whatever a client saw acknowledged survives a restart, a
 * crash of the redis-server process (SIGKILL) and a crash of the machine. The price is one fsync
 * per write batch, which the stack's write rate (a simulator's bookkeeping) does not notice.
 * `everysec` is cheaper and still keeps everything across a clean restart (SIGTERM flushes and
 * fsyncs on the way out), but while a background fsync is running Redis may postpone writing the
 * AOF for up to 2 s after it has replied, so a killed process or a machine crash can lose
 * acknowledged writes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

import { ProbeResult, probeRedis } from './probes';
import { assertPortsFree, isProcessAlive, processCommandLine, sleep, tailFile, terminateProcess, TerminateResult } from './processes';
import { startDetachedProcess } from './service-processes';

export type RedisAppendFsync = 'everysec' | 'always';

export interface StartRedisServerOptions {
  /** TCP port on 127.0.0.1. */
  port: number;
  /** Where the AOF lives (created if missing, never wiped: that is the point). */
  dataDir: string;
  /** Where redis-server's output goes. Default <dataDir>/redis.log. */
  logFile?: string;
  /** Default 'always' (see the head of this file). */
  appendfsync?: RedisAppendFsync;
  /** How long to wait for PING to answer (an AOF being loaded answers LOADING). Default 30 s. */
  readyTimeoutMs?: number;
  /** The redis-server binary. Default: redis-server on the PATH. */
  redisServer?: string;
}

export interface RedisServerHandle {
  pid: number;
  port: number;
  /** redis://127.0.0.1:<port> */
  url: string;
  dataDir: string;
  logFile: string;
  appendfsync: RedisAppendFsync;
  /** "Redis 7.0.15" */
  detail: string;
  /** Milliseconds from spawning to the first PONG. */
  startupMs: number;
  /** SIGTERM (Redis fsyncs its AOF and exits), SIGKILL after 10 s. Only this pid. */
  stop(): Promise<TerminateResult>;
}

/** An Error whose message is meant to be shown to a person as is. */
export class RedisServerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RedisServerError';
  }
}

/** The path of redis-server on the PATH, or undefined when it is not installed. */
export function findRedisServer(): string | undefined {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const found = r.status === 0 ? r.stdout.trim() : '';
  return found || undefined;
}

/** The command-line arguments of a persistent redis-server (pure; see StartRedisServerOptions). */
export function redisServerArgs(p: { port: number; dataDir: string; appendfsync?: RedisAppendFsync }): string[] {
  return [
    '--port', String(p.port),
    '--bind', '127.0.0.1',
    '--protected-mode', 'yes',
    '--daemonize', 'no',
    '--dir', p.dataDir,
    '--appendonly', 'yes',
    '--appendfsync', p.appendfsync ?? 'always',
    // The AOF is the one copy: no RDB snapshots (and no fork every few minutes).
    '--save', '',
    '--logfile', '',
  ];
}

/**
 * Whether `pid` still runs a redis-server (optionally the one on `port`): guards against a
 * recycled pid from a stale pid file. Redis sets its process title to "<argv0> <bind>:<port>", so
 * the program is the first word (a node process whose script path holds "redis-server" is not one).
 */
export function isRedisServerProcess(pid: number, port?: number): boolean {
  if (!isProcessAlive(pid)) return false;
  const [program = '', ...rest] = (processCommandLine(pid) ?? '').split(' ');
  return path.basename(program) === 'redis-server' && (port === undefined || rest.some((word) => word.endsWith(`:${port}`)));
}

/**
 * Stops the redis-server `pid` (SIGTERM: it fsyncs the AOF and exits; SIGKILL after `graceMs`).
 * A pid that now runs something else is left alone ('not-ours').
 */
export async function stopRedisServer(pid: number, graceMs = 10_000): Promise<TerminateResult> {
  if (!isProcessAlive(pid)) return 'not-running';
  if (!isRedisServerProcess(pid)) return 'not-ours';
  return terminateProcess(pid, { graceMs });
}

/** Starts a detached redis-server with AOF and waits until it answers PING. */
export async function startRedisServer(opts: StartRedisServerOptions): Promise<RedisServerHandle> {
  const binary = opts.redisServer ?? findRedisServer();
  if (!binary) throw new RedisServerError('redis-server is not installed (not on the PATH): install it (apt-get install redis-server) or give a REDIS_URL');
  await assertPortsFree([{ port: opts.port, what: 'Redis' }]);
  const dataDir = path.resolve(opts.dataDir);
  if (existsSync(dataDir) && !statSync(dataDir).isDirectory()) throw new RedisServerError(`Redis data dir ${dataDir} is not a directory`);
  mkdirSync(dataDir, { recursive: true });
  const logFile = path.resolve(opts.logFile ?? path.join(dataDir, 'redis.log'));
  const appendfsync = opts.appendfsync ?? 'always';

  const spawnedAt = Date.now();
  const pid = startDetachedProcess({ command: binary, args: redisServerArgs({ port: opts.port, dataDir, appendfsync }), logFile, cwd: dataDir });
  const url = `redis://127.0.0.1:${opts.port}`;
  const stop = () => stopRedisServer(pid);

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
  let last: ProbeResult | undefined;
  for (;;) {
    if (!isProcessAlive(pid)) {
      throw new RedisServerError(`redis-server exited before it answered on 127.0.0.1:${opts.port}. Log ${logFile}, last lines:\n${tailFile(logFile, 20)}`);
    }
    last = await probeRedis(url, 1_000);
    if (last.ok && last.pid === pid) break;
    if (Date.now() > deadline) {
      await stop().catch(() => undefined);
      throw new RedisServerError(`redis-server pid ${pid} did not answer on 127.0.0.1:${opts.port} within ${Math.round((opts.readyTimeoutMs ?? 30_000) / 1000)} s (${last.error ?? `pid ${last.pid} answered`}). Log ${logFile}, last lines:\n${tailFile(logFile, 20)}`);
    }
    await sleep(100);
  }
  return { pid, port: opts.port, url, dataDir, logFile, appendfsync, detail: last.detail ?? 'Redis', startupMs: Date.now() - spawnedAt, stop };
}
