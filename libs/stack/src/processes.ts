/**
 * Process and port helpers shared by the Kafka launcher, the test runner and `mfsim stack`.
 *
 * Everything here acts on one pid that the caller recorded itself. Nothing looks processes up
 * by name.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import * as net from 'node:net';

const LOOPBACK = '127.0.0.1';

/** True while `pid` exists and is not a zombie. */
export function isProcessAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  return processState(pid) !== 'Z';
}

/** The one-letter state from /proc/<pid>/stat ("R", "S", "Z", ...), or undefined. */
function processState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ..." and comm may hold spaces or parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) || undefined;
  } catch {
    return undefined;
  }
}

/** The argv of `pid` joined by spaces, or undefined when it is gone (or /proc is absent). */
export function processCommandLine(pid: number): string | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.split('\0').filter(Boolean).join(' ');
  } catch {
    return undefined;
  }
}

export type TerminateResult = 'not-running' | 'exited' | 'killed' | 'not-ours';

export interface TerminateOptions {
  /** How long to wait after SIGTERM before SIGKILL. Default 10 s. */
  graceMs?: number;
  /**
   * A string the process's command line must contain. Guards against a recycled pid from a
   * stale pid file: if the pid now runs something else, nothing is signalled ('not-ours').
   */
  expectInCommandLine?: string;
}

/**
 * Stops one process: SIGTERM, then SIGKILL after the grace period. Waits until it is gone.
 */
export async function terminateProcess(pid: number, opts: TerminateOptions = {}): Promise<TerminateResult> {
  const graceMs = opts.graceMs ?? 10_000;
  if (!isProcessAlive(pid)) return 'not-running';
  if (opts.expectInCommandLine !== undefined) {
    const cmdline = processCommandLine(pid);
    if (cmdline !== undefined && !cmdline.includes(opts.expectInCommandLine)) return 'not-ours';
  }
  if (!signal(pid, 'SIGTERM')) return 'not-running';
  if (await waitForExit(pid, graceMs)) return 'exited';
  signal(pid, 'SIGKILL');
  if (await waitForExit(pid, 5_000)) return 'killed';
  throw new Error(`process ${pid} is still alive after SIGKILL`);
}

function signal(pid: number, sig: NodeJS.Signals): boolean {
  try {
    process.kill(pid, sig);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `pid` is gone; true if it went within `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isProcessAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True if nothing listens on host:port (we could bind it ourselves). */
export function isPortFree(port: number, host: string = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Throws "port N (what) is already in use on host" for the first taken port. */
export async function assertPortsFree(ports: ReadonlyArray<{ port: number; what: string }>, host: string = LOOPBACK): Promise<void> {
  for (const { port, what } of ports) {
    if (!(await isPortFree(port, host))) {
      throw new PortInUseError(port, what, host);
    }
  }
}

export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly what: string,
    readonly host: string,
  ) {
    super(`port ${port} (${what}) is already in use on ${host}`);
    this.name = 'PortInUseError';
  }
}

/**
 * Finds `count` consecutive free ports in [from, to], starting at a random offset so two runs
 * started at the same moment rarely race for the same pair. The default range stays below the
 * Linux ephemeral range (32768-60999) and away from the stack's defaults (19092/19093).
 */
export async function findFreePorts(count: number, range: { from?: number; to?: number } = {}): Promise<number[]> {
  const from = range.from ?? 20000;
  const to = range.to ?? 32000;
  const span = to - from + 1 - count;
  if (span <= 0) throw new Error(`port range ${from}-${to} is too small for ${count} ports`);
  const start = Math.floor(Math.random() * span);
  for (let i = 0; i < span; i++) {
    const base = from + ((start + i) % span);
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await isPortFree(p);
    if (ok) return Array.from({ length: count }, (_, k) => base + k);
  }
  throw new Error(`no ${count} consecutive free ports in ${from}-${to}`);
}

/** True if a TCP connection to host:port opens within `timeoutMs`. */
export function canConnect(port: number, host: string = LOOPBACK, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The last `lines` lines of a text file ('' if it cannot be read). Reads at most the last 256 KiB. */
export function tailFile(file: string, lines = 40): string {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, 256 * 1024);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    return buf.toString('utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
