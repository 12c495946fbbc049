/**
 * The embedded bus: all five subsystems in one process, each call dispatched to its
 * subsystem's hop and run to completion before the caller resumes — the order the kernel's
 * synchronous call chain has. It records every call, result and log line as a trace tree.
 * Pure: no I/O, no clock.
 */
import { KernelPanic, type Call, type Effect, type Hop, type LogEffect, type MemoEffect, type Read, type TaskCtx } from './effects';
import type { KernelOps, KernelReads, OpName, ReadName, XfsRefcountIrec } from './ops';
import { xfsRmapIsMetadata, xfsRmapQueryRange, type XfsRmapIrec } from './xfs/rmap';
import { XfsRmapBtree } from './xfs/rmap-btree';
import { lookup } from './types';
import * as dax from './dax/dax';
import * as dm from './dm/dm';
import * as fault from './mm/fault';
import * as inject from './mm/inject';
import * as mf from './mm/memory-failure';
import type { MmState } from './mm/mm-state';
import * as pmem from './pmem/pmem';
import * as xfs from './xfs/xfs';

export interface Kernel {
  readonly pmem: pmem.PmemState;
  readonly dax: dax.DaxState;
  readonly dm: dm.DmState;
  readonly xfs: xfs.XfsState;
  readonly mm: MmState;
  /** Set once memory_failure() panicked: the machine is stopped. */
  panic: string | null;
}

type Handler<K extends OpName> = (kernel: Kernel, args: KernelOps[K]['args'], ctx: TaskCtx) => Hop<KernelOps[K]['result']>;

/** Which hop serves each op; each hop sees only its own subsystem's state. */
export const HANDLERS: { [K in OpName]: Handler<K> } = {
  'pmem.getDevPagemap': (k, a) => pmem.getDevPagemap(k.pmem, a),
  'pmem.pmemPagemapMemoryFailure': (k, a) => pmem.pmemPagemapMemoryFailure(k.pmem, a),
  'pmem.pmemDaxDirectAccess': (k, a) => pmem.pmemDaxDirectAccess(k.pmem, a),
  'pmem.pmemPfnHasBadblocks': (k, a) => pmem.pmemPfnHasBadblocks(k.pmem, a),
  'pmem.nvdimmAddBadrange': (k, a) => pmem.nvdimmAddBadrange(k.pmem, a),
  'pmem.ndPmemRemove': (k, a) => pmem.ndPmemRemove(k.pmem, a),
  'pmem.pmemSubmitBio': (k, a) => pmem.pmemSubmitBio(k.pmem, a),
  'pmem.bdClaim': (k, a) => pmem.bdClaim(k.pmem, a),
  'pmem.bdRelease': (k, a) => pmem.bdRelease(k.pmem, a),
  'dax.allocDax': (k, a) => dax.allocDax(k.dax, a),
  'dax.daxRemoveHost': (k, a) => dax.daxRemoveHost(k.dax, a),
  'dax.fsDaxGetByBdev': (k, a) => dax.fsDaxGetByBdev(k.dax, a),
  'dax.fsPutDax': (k, a) => dax.fsPutDax(k.dax, a),
  'dax.daxHolderNotifyFailure': (k, a) => dax.daxHolderNotifyFailure(k.dax, a),
  'dax.killDax': (k, a) => dax.killDax(k.dax, a),
  'dax.daxDirectAccess': (k, a) => dax.daxDirectAccess(k.dax, a),
  'dm.dmCreate': (k, a) => dm.dmCreate(k.dm, a),
  'dm.dmBlkdevOpen': (k, a) => dm.dmBlkdevOpen(k.dm, a),
  'dm.dmDaxNotifyFailure': (k, a) => dm.dmDaxNotifyFailure(k.dm, a),
  'dm.dmDaxDirectAccess': (k, a) => dm.dmDaxDirectAccess(k.dm, a),
  'dm.dmRemove': (k, a) => dm.dmRemove(k.dm, a),
  'dm.dmSubmitBio': (k, a) => dm.dmSubmitBio(k.dm, a),
  'xfs.xfsMount': (k, a) => xfs.xfsMount(k.xfs, a),
  'xfs.xfsDaxNotifyFailure': (k, a) => xfs.xfsDaxNotifyFailure(k.xfs, a),
  'xfs.xfsDaxIomapBegin': (k, a) => xfs.xfsDaxIomapBegin(k.xfs, a),
  'xfs.fsBdevMarkDead': (k, a) => xfs.fsBdevMarkDead(k.xfs, a),
  'xfs.xfsReadFolio': (k, a) => xfs.xfsReadFolio(k.xfs, a),
  'mm.memoryFailure': (k, a) => mf.memoryFailure(k.mm, a),
  'mm.memoryFailureDevPagemap': (k, a) => mf.memoryFailureDevPagemap(k.mm, a),
  'mm.mfGenericKillProcs': (k, a, c) => mf.mfGenericKillProcs(k.mm, a, c),
  'mm.mfDaxKillProcs': (k, a, c) => mf.mfDaxKillProcs(k.mm, a, c),
  'mm.invalidateInodePages2Range': (k, a) => fault.invalidateInodePages2Range(k.mm, a),
  'mm.handleMmFault': (k, a) => fault.handleMmFault(k.mm, a),
  'mm.madviseInjectError': (k, a) => inject.madviseInjectError(k.mm, a),
  'mm.hwpoisonInject': (k, a) => inject.hwpoisonInject(k.mm, a),
  'mm.doMachineCheck': (k, a, c) => inject.doMachineCheck(k.mm, a, c),
  'mm.ucDecodeNotifier': (k, a) => inject.ucDecodeNotifier(k.mm, a),
  'mm.userAccess': (k, a) => inject.userAccess(k.mm, a),
  'mm.userFault': (k, a) => inject.userFault(k.mm, a),
};

type Reader<K extends ReadName> = (kernel: Kernel, args: KernelReads[K]['args']) => KernelReads[K]['result'];

/** How the embedded bus answers each read: from the subsystem's in-memory structures. */
export const READERS: { [K in ReadName]: Reader<K> } = {
  'xfs.rmapQueryRange': (k, a) => xfsRmapQueryRange(lookup(k.xfs.mounts, a.fs, 'filesystem').rmap[Number(a.agno)] ?? [], a.low, a.high),
  'xfs.refcountQueryRange': (k, a) => refcountRecords(lookup(k.xfs.mounts, a.fs, 'filesystem').rmap[Number(a.agno)], a.low, a.high),
};

/**
 * The shared blocks of [low, high] as refcount records, from an AG's rmap (its refcount btree
 * when it has one). Adjacent blocks with the same count are one record.
 */
export function refcountRecords(ag: XfsRmapBtree | readonly XfsRmapIrec[] | undefined, low: bigint, high: bigint): XfsRefcountIrec[] {
  const out: { startblock: bigint; blockcount: bigint; refcount: number }[] = [];
  if (!ag) return out;
  const countAt =
    ag instanceof XfsRmapBtree
      ? (b: bigint) => ag.refcount(b)
      : (b: bigint) => xfsRmapQueryRange(ag, b, b).filter((r) => !xfsRmapIsMetadata(r)).length;
  for (let b = low; b <= high; b++) {
    const n = countAt(b);
    if (n < 2) continue;
    const last = out[out.length - 1];
    if (last && last.refcount === n && last.startblock + last.blockcount === b) last.blockcount += 1n;
    else out.push({ startblock: b, blockcount: 1n, refcount: n });
  }
  return out;
}

/** What the bus hands back for an effect that is not a call: a memo's own value, a read's answer. */
export function answerLocal(kernel: Kernel, effect: MemoEffect | Read): unknown {
  return effect.kind === 'memo' ? effect.value : answerRead(kernel, effect);
}

/** Answers a read effect from the kernel's in-memory state. */
export function answerRead(kernel: Kernel, effect: { op: ReadName; args: unknown }): unknown {
  return (READERS[effect.op] as Reader<ReadName>)(kernel, effect.args as never);
}

/** One call in a trace, with what happened inside it in order. */
export interface TraceCall {
  readonly kind: 'call';
  readonly op: OpName;
  readonly args: unknown;
  result: unknown;
  readonly children: TraceNode[];
}
export type TraceNode = TraceCall | LogEffect;

/**
 * How much of a call's trace to keep: 'full' (the whole tree — the CLI's default),
 * 'summary' (counts only) or 'none' (benchmarks, chaos replays). Traces cost what they hold:
 * a million-page unbind is millions of nodes.
 */
export type TraceLevel = 'full' | 'summary' | 'none';

/** What a 'summary' trace keeps: how many calls and log lines, per op, and the deepest nesting. */
export interface TraceSummary {
  calls: number;
  logs: number;
  depth: number;
  readonly ops: Partial<Record<OpName, number>>;
}

export interface RunCallOptions {
  /** Default 'full'. */
  readonly trace?: TraceLevel;
  /** Told of every call dispatched, in order, whatever the trace level (e.g. to collect pfns). */
  readonly onCall?: (call: Call) => void;
}

export interface BusResult<R> {
  readonly result: R | undefined;
  /**
   * The call's trace (its own node at the root). With trace 'summary' or 'none' only the root
   * node is kept: the call, its arguments and result, no children.
   */
  readonly trace: TraceCall;
  /** With trace 'summary': the counts. */
  readonly summary?: TraceSummary;
  /** The panic message if the kernel panicked during the call. */
  readonly panic: string | null;
}

export function dispatch(kernel: Kernel, call: Call, ctx: TaskCtx): Hop<unknown> {
  const handler = HANDLERS[call.op] as Handler<OpName>;
  return handler(kernel, call.args as never, ctx);
}

function execute(kernel: Kernel, call: Call, ctx: TaskCtx, into: TraceNode[], onCall: ((call: Call) => void) | undefined): unknown {
  const node: TraceCall = { kind: 'call', op: call.op, args: call.args, result: undefined, children: [] };
  into.push(node);
  onCall?.(call);
  const hop = dispatch(kernel, call, ctx);
  let input: unknown = undefined;
  for (;;) {
    const step: IteratorResult<Effect, unknown> = hop.next(input);
    if (step.done) {
      node.result = step.value;
      return step.value;
    }
    const effect = step.value;
    if (effect.kind === 'log') {
      node.children.push(effect);
      input = undefined;
    } else if (effect.kind !== 'call') {
      input = answerLocal(kernel, effect);
    } else {
      input = execute(kernel, effect, ctx, node.children, onCall);
    }
  }
}

/** execute() without a tree: counts into `summary` when given, else keeps nothing. */
function executeBare(kernel: Kernel, call: Call, ctx: TaskCtx, summary: TraceSummary | null, depth: number, onCall: ((call: Call) => void) | undefined): unknown {
  if (summary) {
    summary.calls++;
    summary.ops[call.op] = (summary.ops[call.op] ?? 0) + 1;
    if (depth > summary.depth) summary.depth = depth;
  }
  onCall?.(call);
  const hop = dispatch(kernel, call, ctx);
  let input: unknown = undefined;
  for (;;) {
    const step: IteratorResult<Effect, unknown> = hop.next(input);
    if (step.done) return step.value;
    const effect = step.value;
    if (effect.kind === 'log') {
      if (summary) summary.logs++;
      input = undefined;
    } else if (effect.kind !== 'call') {
      input = answerLocal(kernel, effect);
    } else {
      input = executeBare(kernel, effect, ctx, summary, depth + 1, onCall);
    }
  }
}

/**
 * Runs one call to completion on the embedded bus in the task context `ctx` and returns its
 * result and trace (as much as `opts.trace` keeps). A kernel panic stops everything: the
 * result is undefined and the kernel stays panicked.
 */
export function runCall<K extends OpName>(
  kernel: Kernel,
  op: K,
  args: KernelOps[K]['args'],
  ctx: TaskCtx,
  opts: RunCallOptions = {},
): BusResult<KernelOps[K]['result']> {
  const call = { kind: 'call', op, args } as Call;
  if (kernel.panic) throw new Error(`the kernel has panicked (${kernel.panic}); nothing runs after it`);
  const level = opts.trace ?? 'full';
  if (level === 'full') {
    const root: TraceNode[] = [];
    try {
      const result = execute(kernel, call, ctx, root, opts.onCall) as KernelOps[K]['result'];
      return { result, trace: root[0] as TraceCall, panic: null };
    } catch (err) {
      if (!(err instanceof KernelPanic)) throw err;
      kernel.panic = err.message;
      return { result: undefined, trace: root[0] as TraceCall, panic: err.message };
    }
  }
  const summary: TraceSummary | null = level === 'summary' ? { calls: 0, logs: 0, depth: 0, ops: {} } : null;
  const trace: TraceCall = { kind: 'call', op, args, result: undefined, children: [] };
  const extra = summary ? { summary } : {};
  try {
    trace.result = executeBare(kernel, call, ctx, summary, 1, opts.onCall);
    return { result: trace.result as KernelOps[K]['result'], trace, ...extra, panic: null };
  } catch (err) {
    if (!(err instanceof KernelPanic)) throw err;
    kernel.panic = err.message;
    return { result: undefined, trace, ...extra, panic: err.message };
  }
}
