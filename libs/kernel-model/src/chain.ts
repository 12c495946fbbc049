/**
 * The hops split over hosts: each subsystem runs in its own host (a service), and a call into
 * another subsystem leaves as a message whose result comes back later. A generator cannot be
 * stored, so a host keeps, per call it serves, a record of the calls that hop made and their
 * results, and when a result arrives it **replays** the hop from its start against its current
 * state, feeding the recorded results, until the hop reaches the call that was waiting — then
 * it goes on live. Calls are identified deterministically (`<caller id>.<n>` for the n-th call
 * a hop makes), so a replay after a crash finds the earlier result instead of acting twice.
 *
 * A chain is the calls one host runs for one incoming call: the incoming call (the chain's
 * root) and the calls into its own subsystem it makes, nested as deep as they go. Everything
 * here is pure: the host loads the chain's records and its state, calls `driveChain`, stores
 * what changed and sends the messages it returns.
 */
import { dispatch, type Kernel } from './bus';
import type { SubsystemState } from './codec';
import { KernelPanic, type Effect, type Hop, type LogEffect, type Subsystem, type TaskCtx } from './effects';
import type { OpName, ReadName } from './ops';

/** The subsystem (host) that serves an op: the part of its name before the dot. */
export function ownerOf(op: OpName | ReadName): Subsystem {
  return op.slice(0, op.indexOf('.')) as Subsystem;
}

/** One call a hop made, as its record keeps it. */
export interface ChildCall {
  readonly id: string;
  readonly op: OpName;
  readonly args: unknown;
  /** Served by the same host (nested in this chain) or sent to another. */
  readonly local: boolean;
  done: boolean;
  result?: unknown;
  /** The kernel panicked inside it. */
  panic?: string;
  /** It could not run (see CallRecord.error). */
  error?: string;
}

/** What a call's trace holds, in order: kernel log lines and the calls it made (by index). */
export type RecordEvent = LogEffect | { readonly kind: 'call'; readonly index: number };

/** A call a host serves (or served): enough to replay it and to draw it in a trace. */
export interface CallRecord {
  readonly id: string;
  readonly op: OpName;
  readonly args: unknown;
  readonly ctx: TaskCtx;
  /** Root of the chain this record belongs to (its own id for a chain root). */
  readonly chain: string;
  /** For a chain root: who called it (a subsystem, or 'user' for an injection or set-up). */
  readonly caller: Subsystem | 'user' | null;
  /** For a chain root: the caller's chain, echoed in the reply. */
  readonly callerChain?: string;
  readonly children: ChildCall[];
  readonly events: RecordEvent[];
  /** Values the hop remembered (see MemoEffect), in order. */
  readonly memos: unknown[];
  /** `error`: the call could not run (a name nothing knows: a bad call, not a kernel outcome). */
  status: 'open' | 'done' | 'panic' | 'error';
  result?: unknown;
  panic?: string;
  error?: string;
}

/** A call to send to another host. */
export interface OutgoingCall {
  readonly kind: 'call';
  readonly to: Subsystem;
  readonly id: string;
  readonly op: OpName;
  readonly args: unknown;
  readonly ctx: TaskCtx;
  /** The caller's chain: echoed in the reply so the caller loads the right records. */
  readonly chain: string;
  readonly from: Subsystem;
}

/** A result to send back to whoever called a chain root. */
export interface OutgoingReply {
  readonly kind: 'reply';
  readonly to: Subsystem | 'user';
  readonly id: string;
  /** The chain of the caller (from its call). */
  readonly chain: string;
  readonly result?: unknown;
  readonly panic?: string;
  readonly error?: string;
  readonly from: Subsystem;
}

export type Outgoing = OutgoingCall | OutgoingReply;

/** What a host needs to run its hops: its subsystem, the hops over its state, its reads. */
export interface ChainHost {
  readonly subsys: Subsystem;
  /** The hop for an op of this subsystem, over this host's state. */
  hop(op: OpName, args: unknown, ctx: TaskCtx): Hop<unknown>;
  /** Answers a read of this subsystem's stored structures. */
  read(op: ReadName, args: unknown): unknown;
  /** The records of the chains loaded for this step; new ones are added here. */
  readonly records: Map<string, CallRecord>;
  /** Told when a call into this host starts running live and when it returns (for tracing). */
  readonly observer?: {
    enter(rec: CallRecord): void;
    exit(rec: CallRecord): void;
  };
}

/**
 * The host of one subsystem over its state: its hops dispatched as the embedded bus dispatches
 * them (each sees only its own subsystem), its reads answered by `read`.
 */
export function subsystemHost(
  subsys: Subsystem,
  state: SubsystemState,
  records: Map<string, CallRecord>,
  read: ChainHost['read'],
  observer?: ChainHost['observer'],
): ChainHost {
  const kernel = { [subsys]: state } as unknown as Kernel;
  return {
    subsys,
    hop: (op, args, ctx) => dispatch(kernel, { kind: 'call', op, args } as never, ctx),
    read,
    records,
    ...(observer ? { observer } : {}),
  };
}

/** Records a step changed or created: the host persists exactly these. */
export type Touched = Set<string>;

export type ChainOutcome =
  | { readonly kind: 'suspended'; readonly send: OutgoingCall | null }
  | { readonly kind: 'done'; readonly result: unknown };

/** A call that could not run (an unknown device or file): ends the chain with an error reply. */
export class CallError extends Error {
  override readonly name = 'CallError';
}

/** Thrown when a replay does not make the calls it made the first time: a model bug. */
export class ReplayDivergence extends Error {
  override readonly name = 'ReplayDivergence';
}

/** The id of the call that made `id` (`a.b.3` → `a.b`), or null for an injected root. */
export function parentCallId(id: string): string | null {
  const dot = id.lastIndexOf('.');
  return dot < 0 ? null : id.slice(0, dot);
}

function sameArgs(a: unknown, b: unknown): boolean {
  return stableKey(a) === stableKey(b);
}

function stableKey(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x instanceof Set ? [...x] : x instanceof Map ? [...x] : x));
}

/**
 * Runs (or replays) the call `id` of this host until it returns or waits for another host.
 * Local calls it makes run nested, recorded the same way. Throws KernelPanic through every
 * frame, as the embedded bus does.
 */
export async function driveCall(host: ChainHost, id: string, touched: Touched): Promise<ChainOutcome> {
  const rec = host.records.get(id);
  if (!rec) throw new Error(`no record of call ${id}`);
  if (rec.status === 'done') return { kind: 'done', result: rec.result };
  const hop = host.hop(rec.op, rec.args, rec.ctx);
  if (rec.children.length === 0 && rec.events.length === 0) host.observer?.enter(rec);
  let fed = 0;
  let memos = 0;
  let input: unknown = undefined;
  for (;;) {
    const step: IteratorResult<Effect, unknown> = hop.next(input);
    input = undefined;
    if (step.done) {
      rec.status = 'done';
      rec.result = step.value;
      touched.add(rec.id);
      host.observer?.exit(rec);
      return { kind: 'done', result: step.value };
    }
    const effect = step.value;
    if (effect.kind === 'log') {
      // Lines printed before the last recorded call are already in the record.
      if (fed >= rec.children.length) {
        rec.events.push(effect);
        touched.add(rec.id);
      }
      continue;
    }
    if (effect.kind === 'memo') {
      if (memos < rec.memos.length) input = rec.memos[memos];
      else {
        rec.memos.push(effect.value);
        touched.add(rec.id);
        input = effect.value;
      }
      memos++;
      continue;
    }
    if (effect.kind === 'read') {
      input = await host.read(effect.op, effect.args);
      continue;
    }
    const index = fed;
    let child = rec.children[index];
    if (child) {
      if (child.op !== effect.op || !sameArgs(child.args, effect.args)) {
        throw new ReplayDivergence(`${rec.id}: call #${index} was ${child.op} ${stableKey(child.args)}, replay makes ${effect.op} ${stableKey(effect.args)}`);
      }
    } else {
      const local = ownerOf(effect.op) === host.subsys;
      child = { id: `${rec.id}.${index}`, op: effect.op, args: effect.args, local, done: false };
      rec.children.push(child);
      rec.events.push({ kind: 'call', index });
      touched.add(rec.id);
      if (local) {
        host.records.set(child.id, { id: child.id, op: effect.op, args: effect.args, ctx: rec.ctx, chain: rec.chain, caller: null, children: [], events: [], memos: [], status: 'open' });
        touched.add(child.id);
      } else {
        return { kind: 'suspended', send: { kind: 'call', to: ownerOf(effect.op), id: child.id, op: effect.op, args: effect.args, ctx: rec.ctx, chain: rec.chain, from: host.subsys } };
      }
    }
    if (!child.done && child.local) {
      let nested: ChainOutcome;
      try {
        nested = await driveCall(host, child.id, touched);
      } catch (err) {
        if (err instanceof KernelPanic) markPanic(host, rec, child, err.message, touched);
        throw err;
      }
      if (nested.kind === 'suspended') return nested;
      child.done = true;
      child.result = nested.result;
      touched.add(rec.id);
    }
    if (!child.done) return { kind: 'suspended', send: null };
    if (child.panic !== undefined) {
      markPanic(host, rec, child, child.panic, touched);
      throw new KernelPanic(child.panic);
    }
    if (child.error !== undefined) throw new CallError(child.error);
    fed = index + 1;
    input = child.result;
  }
}

function markPanic(host: ChainHost, rec: CallRecord, child: ChildCall, message: string, touched: Touched): void {
  child.panic = message;
  rec.status = 'panic';
  rec.panic = message;
  const nested = host.records.get(child.id);
  if (nested && nested.status === 'open') {
    nested.status = 'panic';
    nested.panic = message;
    touched.add(nested.id);
  }
  touched.add(rec.id);
}

/** An incoming call or reply, as a host receives it. */
export type Incoming =
  | { readonly kind: 'call'; readonly id: string; readonly op: OpName; readonly args: unknown; readonly ctx: TaskCtx; readonly chain: string; readonly from: Subsystem | 'user' }
  | { readonly kind: 'reply'; readonly id: string; readonly chain: string; readonly result?: unknown; readonly panic?: string; readonly error?: string };

export interface StepResult {
  /** Messages to send once the step's changes are stored. */
  readonly send: Outgoing[];
  readonly touched: Touched;
  /** Whether the message changed nothing (a redelivery). */
  readonly duplicate: boolean;
}

/**
 * Handles one incoming message. A call creates the chain root record (a redelivered call of a
 * finished root only answers again); a reply completes the waiting child and replays its
 * chain. Returns what to send; the records of `incoming`'s chain must be in `host.records`.
 */
export async function handleIncoming(host: ChainHost, incoming: Incoming): Promise<StepResult> {
  const touched: Touched = new Set();
  let chainId: string;
  if (incoming.kind === 'call') {
    const existing = host.records.get(incoming.id);
    if (existing) {
      if (existing.status === 'open') return { send: [], touched, duplicate: true };
      return { send: [replyOf(host, existing)], touched, duplicate: true };
    }
    const rec: CallRecord = {
      id: incoming.id,
      op: incoming.op,
      args: incoming.args,
      ctx: incoming.ctx,
      chain: incoming.id,
      caller: incoming.from,
      children: [],
      events: [],
      memos: [],
      status: 'open',
      callerChain: incoming.chain,
    };
    host.records.set(rec.id, rec);
    touched.add(rec.id);
    chainId = rec.id;
  } else {
    const parentId = parentCallId(incoming.id);
    const parent = parentId === null ? undefined : host.records.get(parentId);
    if (!parent) throw new Error(`reply ${incoming.id}: no waiting call ${parentId ?? '(none)'} in chain ${incoming.chain}`);
    const index = Number(incoming.id.slice(incoming.id.lastIndexOf('.') + 1));
    const child = parent.children[index];
    if (!child || child.local) throw new Error(`reply ${incoming.id}: call ${parent.id} made no remote call #${index}`);
    if (child.done) return { send: [], touched, duplicate: true };
    child.done = true;
    child.result = incoming.result;
    if (incoming.panic !== undefined) child.panic = incoming.panic;
    if (incoming.error !== undefined) child.error = incoming.error;
    touched.add(parent.id);
    chainId = parent.chain;
  }
  const root = host.records.get(chainId) as CallRecord;
  if (root.status !== 'open') return { send: [], touched, duplicate: false };
  let outcome: ChainOutcome;
  try {
    outcome = await driveCall(host, chainId, touched);
  } catch (err) {
    if (err instanceof ReplayDivergence) throw err;
    if (err instanceof KernelPanic) {
      root.status = 'panic';
      root.panic = err.message;
    } else {
      // The model refused the call (a name nothing knows): deterministic, so answer it.
      for (const rec of host.records.values()) {
        if (rec.chain === root.chain && rec.status === 'open') {
          rec.status = 'error';
          rec.error = err instanceof Error ? err.message : String(err);
          touched.add(rec.id);
        }
      }
    }
    touched.add(root.id);
    return { send: [replyOf(host, root)], touched, duplicate: false };
  }
  if (outcome.kind === 'suspended') return { send: outcome.send ? [outcome.send] : [], touched, duplicate: false };
  return { send: [replyOf(host, root)], touched, duplicate: false };
}

/** The reply a finished chain root owes its caller. */
export function replyOf(host: ChainHost, root: CallRecord): OutgoingReply {
  const callerChain = root.callerChain ?? root.id;
  const base = { kind: 'reply' as const, to: root.caller ?? 'user', id: root.id, chain: callerChain, from: host.subsys };
  if (root.status === 'panic') return { ...base, panic: root.panic ?? 'panic' };
  if (root.status === 'error') return { ...base, error: root.error ?? 'error' };
  return { ...base, result: root.result };
}

/**
 * The message a chain is waiting for, if any: the remote call its deepest open record made
 * last and has no answer to (what a host sends again after a crash between storing a step and
 * sending its message). Null when the chain is finished or waiting on nothing remote.
 */
export function pendingCall(subsys: Subsystem, records: ReadonlyMap<string, CallRecord>, chainId: string): OutgoingCall | null {
  let rec = records.get(chainId);
  while (rec && rec.status === 'open') {
    const last = rec.children[rec.children.length - 1];
    if (!last || last.done) return null;
    if (!last.local) {
      return { kind: 'call', to: ownerOf(last.op), id: last.id, op: last.op, args: last.args, ctx: rec.ctx, chain: rec.chain, from: subsys };
    }
    rec = records.get(last.id);
  }
  return null;
}
