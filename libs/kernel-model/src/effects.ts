/**
 * How a hop talks to the rest of the kernel. A hop is a generator: it reads and changes only
 * its own subsystem's state, and every call into another subsystem is an effect it yields,
 * resumed with that call's result. That keeps each subsystem a pure function of
 * (its state, the incoming call) -> (its state changes, the calls it makes, its result), so the
 * same hops run wired together in one process (the embedded bus) or split over services.
 */
import type { KernelOps, OpName } from './ops';

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

export type Effect = Call | LogEffect;

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
