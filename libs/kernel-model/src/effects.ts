/**
 * How a hop talks to the rest of the kernel. A hop is a generator: it reads and changes only
 * its own subsystem's state, and every call into another subsystem is an effect it yields,
 * resumed with that call's result. That keeps each subsystem a pure function of
 * (its state, the incoming call) -> (its state changes, the calls it makes, its result), so the
 * same hops run wired together in one process (the embedded bus) or split over services.
 */
import type { KernelOps, KernelReads, OpName, ReadName } from './ops';

/** The task context a call chain runs in: the pid of `current`, or null (kworker, shell). */
export interface TaskCtx {
  readonly current: number | null;
}

export type Subsystem = 'mm' | 'pmem' | 'dax' | 'dm' | 'xfs';

export type Call = {
  [K in OpName]: { readonly kind: 'call'; readonly op: K; readonly args: KernelOps[K]['args'] };
}[OpName];

export type LogLevel = 'debug' | 'info' | 'warn' | 'err' | 'emerg' | 'alert';

/** A kernel log line (printk), attached to the hop that printed it. */
export interface LogEffect {
  readonly kind: 'log';
  readonly subsys: Subsystem;
  readonly level: LogLevel;
  readonly text: string;
}

/**
 * A read of the hop's own subsystem's on-disk structures (a btree lookup that, in the kernel,
 * reads buffers): a pure request the host answers. The embedded bus answers it from memory, a
 * service from its database. Reads change nothing and are not calls: no trace node, no record.
 */
export type Read = {
  [K in ReadName]: { readonly kind: 'read'; readonly op: K; readonly args: KernelReads[K]['args'] };
}[ReadName];

export type Effect = Call | LogEffect | Read;

export type Hop<R> = Generator<Effect, R, unknown>;

/** Calls `op` in its subsystem and returns its result: `const rc = yield* invoke(...)`. */
export function* invoke<K extends OpName>(op: K, args: KernelOps[K]['args']): Hop<KernelOps[K]['result']> {
  const call = { kind: 'call', op, args } as Call;
  return (yield call) as KernelOps[K]['result'];
}

/** Reads from the hop's own subsystem's store: `const recs = yield* read('xfs.rmapQueryRange', …)`. */
export function* read<K extends ReadName>(op: K, args: KernelReads[K]['args']): Hop<KernelReads[K]['result']> {
  const effect = { kind: 'read', op, args } as Read;
  return (yield effect) as KernelReads[K]['result'];
}

export function* printk(subsys: Subsystem, level: LogLevel, text: string): Hop<void> {
  yield { kind: 'log', subsys, level, text };
}


/**
 * Thrown by memory_failure() when vm.memory_failure_recovery is 0: the machine stops, so the
 * whole call chain ends here and nothing after it runs.
 */
export class KernelPanic extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KernelPanic';
  }
}
