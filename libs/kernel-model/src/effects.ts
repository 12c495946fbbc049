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

/**
 * A value a hop read from its own state to decide what to call next, when that state can be
 * changed by the very calls it is about to make (a page-table entry that the failure path
 * will unmap). Run once, it is the value; replayed, the host hands back the value the first
 * run saw, so the replay makes the same calls. Durable-execution engines (Temporal's side
 * effects, Durable Functions) record non-deterministic reads the same way.
 */
export interface MemoEffect {
  readonly kind: 'memo';
  readonly value: unknown;
}

export type Effect = Call | LogEffect | Read | MemoEffect;

export type Hop<R> = Generator<Effect, R, unknown>;

/**
 * One effect, then the value it is resumed with: what `yield* invoke(…)` and `yield* printk(…)`
 * delegate to. A plain iterator rather than a generator: every call and log line of every
 * hop goes through one, and this costs about half as much.
 */
class OneEffect<R> {
  private yielded = false;
  constructor(private readonly effect: Effect) {}
  next(input?: unknown): IteratorResult<Effect, R> {
    if (this.yielded) return { value: input as R, done: true };
    this.yielded = true;
    return { value: this.effect, done: false };
  }
  return(value: R): IteratorResult<Effect, R> {
    this.yielded = true;
    return { value, done: true };
  }
  throw(error: unknown): IteratorResult<Effect, R> {
    this.yielded = true;
    throw error;
  }
  [Symbol.iterator](): this {
    return this;
  }
}

/** Calls `op` in its subsystem and returns its result: `const rc = yield* invoke(...)`. */
export function invoke<K extends OpName>(op: K, args: KernelOps[K]['args']): Hop<KernelOps[K]['result']> {
  const call = { kind: 'call', op, args } as Call;
  return new OneEffect<KernelOps[K]['result']>(call) as unknown as Hop<KernelOps[K]['result']>;
}

/** Reads from the hop's own subsystem's store: `const recs = yield* read('xfs.rmapQueryRange', …)`. */
export function read<K extends ReadName>(op: K, args: KernelReads[K]['args']): Hop<KernelReads[K]['result']> {
  return new OneEffect<KernelReads[K]['result']>({ kind: 'read', op, args } as Read) as unknown as Hop<KernelReads[K]['result']>;
}

/** `const pte = yield* memo(lookupPte(…))`: see MemoEffect. */
export function memo<T>(value: T): Hop<T> {
  return new OneEffect<T>({ kind: 'memo', value }) as unknown as Hop<T>;
}

export function printk(subsys: Subsystem, level: LogLevel, text: string): Hop<void> {
  return new OneEffect<void>({ kind: 'log', subsys, level, text }) as unknown as Hop<void>;
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
