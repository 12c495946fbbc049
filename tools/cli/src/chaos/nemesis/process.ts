/**
 * Process faults of the nemesis: `kill` (SIGKILL, then a restart when the window ends) and
 * `pause` (SIGSTOP, then SIGCONT), of a service process or replica, the Kafka broker, Redis or
 * PostgreSQL — only processes the stack started (their pids come from .mfsim/stack/state.json).
 *
 * Each fault observes its effect from outside: the pid is gone (kill) or in state T in /proc
 * (pause), and the component no longer answers (/health refused or timing out, Kafka/Redis/
 * PostgreSQL not answering a probe). The end waits until the component answers again.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import * as path from 'node:path';

import { checkHealth, isProcessAlive, probeKafka, probePostgres, probeRedis, redisServerArgs, sleep } from '@mfsim/stack';

import type { StackConfig } from '../../stack/config';
import { readState, writePidFile, writeState, type StackState } from '../../stack/state';
import { PlanError, type FaultContext, type FaultKind, type FaultSpec } from './fault';

/** One process a fault can act on. */
export interface ChaosProcess {
  readonly id: string;
  readonly role: 'service' | 'kafka' | 'redis' | 'postgres';
  readonly pid: number;
}

/**
 * How the process faults find, probe and restart processes. The default reads the stack of
 * `mfsim stack up` (stackProcesses); tests give their own (a TestStack's services).
 */
export interface ProcessControl {
  /** Every target id it knows (`xfs-fs`, `mm-process-2`, `kafka`, `redis`, `postgres`). */
  targets(): string[];
  /** The process of a target now (a restarted one has a new pid); undefined when unknown. */
  find(target: string): ChaosProcess | undefined;
  /** Whether it answers (one probe, bounded by `timeoutMs`). */
  answers(target: string, timeoutMs: number): Promise<boolean>;
  /** Starts the target again after a kill; resolves with its new pid once it answers. */
  restart(target: string, signal: AbortSignal): Promise<number>;
  /** Why a target cannot be faulted (e.g. PostgreSQL without --own-postgres); undefined when it can. */
  refusal?(target: string): string | undefined;
  /** Records what `restart` needs to start the target again (argv, env, cwd); called just before a kill. */
  snapshot?(target: string): void;
}

/** A FaultContext may carry its own process control (tests); otherwise the stack's is used. */
export type ProcessFaultContext = FaultContext & { readonly processes?: ProcessControl };

function controlOf(ctx: FaultContext): ProcessControl {
  return (ctx as ProcessFaultContext).processes ?? stackProcesses(ctx.config, () => ctx.state());
}

/** The one-letter state of a pid in /proc ("R", "S", "T", "Z"), or undefined when it is gone. */
export function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) || undefined;
  } catch {
    return undefined;
  }
}

/** What is needed to start a process again exactly as it ran: argv, cwd, environment. */
interface Snapshot {
  readonly argv: string[];
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** The user it ran as (PostgreSQL runs as `postgres` when the stack runs as root). */
  readonly uid?: number;
  readonly gid?: number;
}

function snapshot(pid: number): Snapshot {
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a.length > 0);
  const cwd = readlinkSync(`/proc/${pid}/cwd`);
  const env: NodeJS.ProcessEnv = {};
  for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = kv.indexOf('=');
    if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
  const gid = Number(/^Gid:\s+(\d+)/m.exec(status)?.[1]);
  return { argv, cwd, env, ...(Number.isInteger(uid) && uid !== process.getuid?.() ? { uid, gid } : {}) };
}

/** Starts argv detached in its own session, its output appended to `logFile`. */
function respawn(s: Snapshot, logFile: string): number {
  mkdirSync(path.dirname(logFile), { recursive: true });
  const out = openSync(logFile, 'a');
  try {
    const [command, ...args] = s.argv as [string, ...string[]];
    const child = spawn(command, args, { cwd: s.cwd, env: s.env, stdio: ['ignore', out, out], detached: true, ...(s.uid !== undefined ? { uid: s.uid, gid: s.gid } : {}) });
    child.once('error', () => undefined);
    if (child.pid === undefined) throw new Error(`could not start ${command}`);
    child.unref();
    return child.pid;
  } finally {
    closeSync(out);
  }
}

/** The processes of the stack `mfsim stack up` started, restarted as they were started. */
export function stackProcesses(config: StackConfig, current: () => StackState): ProcessControl {
  const snapshots = new Map<string, Snapshot>();
  const lookup = (target: string): (ChaosProcess & { port: number; logFile: string }) | undefined => {
    const st = current();
    if (target === 'kafka') return st.kafka ? { id: target, role: 'kafka', pid: st.kafka.pid, port: st.kafka.port, logFile: st.kafka.logFile } : undefined;
    if (target === 'redis')
      return st.redis ? { id: target, role: 'redis', pid: st.redis.pid, port: st.redis.port, logFile: st.redis.logFile ?? path.join(config.stackDir, 'redis.log') } : undefined;
    if (target === 'postgres') {
      const pg = st.ownPostgres;
      return pg ? { id: target, role: 'postgres', pid: pg.pid, port: pg.port, logFile: pg.logFile } : undefined;
    }
    const s = st.services[target];
    return s ? { id: target, role: 'service', pid: s.pid, port: s.port, logFile: s.logFile } : undefined;
  };
  const answers = async (target: string, timeoutMs: number): Promise<boolean> => {
    const p = lookup(target);
    if (!p) return false;
    const bounded = (pr: Promise<boolean>) => Promise.race([pr.catch(() => false), sleep(timeoutMs + 500).then(() => false)]);
    switch (p.role) {
      case 'service':
        return bounded(checkHealth(p.port, timeoutMs).then((h) => h.status === 200));
      case 'kafka':
        return bounded(probeKafka([`127.0.0.1:${p.port}`], timeoutMs).then((r) => r.ok));
      case 'redis':
        return bounded(probeRedis(`redis://127.0.0.1:${p.port}`, timeoutMs).then((r) => r.ok));
      case 'postgres':
        return bounded(probePostgres(`postgresql://postgres@127.0.0.1:${p.port}/postgres`, timeoutMs).then((r) => r.ok));
    }
  };
  const record = (target: string, pid: number): void => {
    const st = readState(config) ?? current();
    if (target === 'kafka' && st.kafka) {
      st.kafka.pid = pid;
      writePidFile(config.kafka.pidFile, pid);
    } else if (target === 'redis' && st.redis) {
      st.redis.pid = pid;
      writePidFile(st.redis.pidFile, pid);
    } else if (target === 'postgres') {
      if (st.ownPostgres) st.ownPostgres.pid = pid;
    } else if (st.services[target]) {
      st.services[target].pid = pid;
      writePidFile(path.join(config.stackDir, `${target}.pid`), pid);
    }
    writeState(config, st);
  };
  return {
    targets() {
      const st = current();
      return [...Object.keys(st.services), ...(st.kafka ? ['kafka'] : []), ...(st.redis ? ['redis'] : []), ...(st.ownPostgres ? ['postgres'] : [])];
    },
    find: lookup,
    answers,
    refusal(target) {
      if (target === 'postgres' && !current().ownPostgres)
        return 'PostgreSQL is the machine\'s shared server: a fault on it needs `mfsim stack up --own-postgres`';
      if (target === 'redis' && !current().redis) return 'the stack uses a Redis it did not start (REDIS_URL/--redis-url): no fault on it';
      return undefined;
    },
    async restart(target, signal) {
      const p = lookup(target);
      if (!p) throw new Error(`${target} is not in the stack's state`);
      let pid: number;
      if (p.role === 'redis') {
        // redis-server rewrites its argv: start it as the stack does, on the same AOF.
        const r = current().redis!;
        pid = respawn(
          { argv: ['redis-server', ...redisServerArgs({ port: r.port, dataDir: r.dataDir ?? path.join(config.stackDir, 'redis'), appendfsync: 'always' })], cwd: r.dataDir ?? config.stackDir, env: process.env },
          p.logFile,
        );
      } else {
        const s = snapshots.get(target);
        if (!s) throw new Error(`no snapshot of ${target} to restart it from`);
        pid = respawn(s, p.logFile);
        // A killed postmaster's backends may still hold its shared memory for a moment: try again.
        for (let i = 0; p.role === 'postgres' && i < 20; i++) {
          await sleep(500);
          if (isProcessAlive(pid)) break;
          pid = respawn(s, p.logFile);
        }
      }
      record(target, pid);
      while (!(await answers(target, 1500))) {
        if (signal.aborted) break;
        if (!isProcessAlive(pid)) throw new Error(`${target} (pid ${pid}) exited after its restart; see ${p.logFile}`);
        await sleep(250);
      }
      return pid;
    },
    snapshot(target) {
      const p = lookup(target);
      if (p) snapshots.set(target, snapshot(p.pid));
    },
  };
}

/** Waits until `check` returns a description, or rejects after `timeoutMs`. */
async function observe(what: string, timeoutMs: number, signal: AbortSignal, check: () => Promise<string | undefined>): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const seen = await check();
    if (seen !== undefined) return seen;
    if (signal.aborted) throw new Error(`${what}: interrupted before the effect was seen`);
    if (Date.now() > deadline) throw new Error(`${what}: no effect seen within ${timeoutMs} ms`);
    await sleep(100);
  }
}

function parseTarget(raw: Record<string, unknown>, p: string): void {
  if (typeof raw.target !== 'string' || raw.target === '') throw new PlanError(`${p}.target`, 'must name a service, a replica, kafka, redis or postgres');
}

function checkTarget(control: ProcessControl, spec: FaultSpec): void {
  const why = control.refusal?.(spec.target);
  if (why) throw new PlanError('target', `${spec.target}: ${why}`);
  if (!control.find(spec.target)) throw new PlanError('target', `${spec.target} is not a process of the stack (known: ${control.targets().join(', ')})`);
}

export const killFault: FaultKind = {
  kind: 'kill',
  summary: 'SIGKILL a process of the stack (service, replica, kafka, redis, postgres); restart it when the window ends and wait until it answers',
  parse(raw, p) {
    parseTarget(raw, p);
    return raw as unknown as FaultSpec;
  },
  async start(spec, ctx) {
    const control = controlOf(ctx);
    checkTarget(control, spec);
    const proc = control.find(spec.target)!;
    control.snapshot?.(spec.target);
    process.kill(proc.pid, 'SIGKILL');
    ctx.say(`kill ${spec.target}: SIGKILL pid ${proc.pid}`);
    const effect = observe(`kill ${spec.target}`, 10_000, ctx.signal, async () => {
      if (isProcessAlive(proc.pid)) return undefined;
      const answers = await control.answers(spec.target, 1000);
      return answers ? undefined : `${spec.target} pid ${proc.pid} gone (/proc), it no longer answers`;
    });
    effect.catch(() => undefined);
    let ended: Promise<void> | undefined;
    return {
      effect,
      end() {
        ended ??= (async () => {
          await effect.catch(() => undefined);
          const pid = await control.restart(spec.target, ctx.signal);
          ctx.say(`kill ${spec.target}: restarted as pid ${pid}, answering`);
        })();
        return ended;
      },
    };
  },
};

export const pauseFault: FaultKind = {
  kind: 'pause',
  summary: 'SIGSTOP a process of the stack for the window, then SIGCONT and wait until it answers',
  parse(raw, p) {
    parseTarget(raw, p);
    return raw as unknown as FaultSpec;
  },
  async start(spec, ctx) {
    const control = controlOf(ctx);
    checkTarget(control, spec);
    const proc = control.find(spec.target)!;
    process.kill(proc.pid, 'SIGSTOP');
    ctx.say(`pause ${spec.target}: SIGSTOP pid ${proc.pid}`);
    const effect = observe(`pause ${spec.target}`, 10_000, ctx.signal, async () => {
      if (procState(proc.pid) !== 'T') return undefined;
      const answers = await control.answers(spec.target, 1000);
      return answers ? undefined : `${spec.target} pid ${proc.pid} in state T (/proc), no answer within 1 s`;
    });
    effect.catch(() => undefined);
    let ended: Promise<void> | undefined;
    return {
      effect,
      end() {
        ended ??= (async () => {
          await effect.catch(() => undefined);
          if (isProcessAlive(proc.pid)) process.kill(proc.pid, 'SIGCONT');
          const t0 = Date.now();
          while (!(await control.answers(spec.target, 1500)) && !ctx.signal.aborted && Date.now() - t0 < 120_000) await sleep(200);
          ctx.say(`pause ${spec.target}: SIGCONT pid ${proc.pid}, answering after ${Date.now() - t0} ms`);
        })();
        return ended;
      },
    };
  },
};
