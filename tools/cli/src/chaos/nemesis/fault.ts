/**
 * The nemesis of `mfsim chaos run`: the contract every fault kind implements (process, network,
 * application faults each live in their own module of this folder and register in `registry.ts`).
 *
 * A fault is started with a target and ended after its window. Starting resolves once the fault
 * has been *applied*; `effect` resolves only when something outside the fault's own code has
 * *observed* it (a refused /health, a latency measured through the proxy, a DLQ count that grew),
 * so a fault that silently did not fire cannot pass (docs/chaos-history.md, `fault` lines).
 */
import type { StackConfig } from '../../stack/config';
import type { StackState } from '../../stack/state';

/** What a fault can reach: the stack `mfsim stack up` started, and the runner's log. */
export interface FaultContext {
  readonly config: StackConfig;
  /** The stack's state.json as it is now (re-read: a restarted process has a new pid). */
  state(): StackState;
  /** The admin token the services require for state-changing requests, when one is configured. */
  readonly adminToken?: string;
  /** One line of live output for the person running the plan. */
  say(line: string): void;
  /** Aborted when the run is interrupted: long waits give up and heal. */
  readonly signal: AbortSignal;
}

/** A fault while it is in force. */
export interface ActiveFault {
  /** Resolves with what was seen showing the fault took effect; rejects when nothing is seen in time. */
  readonly effect: Promise<string>;
  /** Heals the fault (restart and wait for health, remove the toxic, clear the flag). Idempotent. */
  end(): Promise<void>;
}

/** One kind of fault (`kill`, `pause`, `latency`, `blackhole`, `reset`, `slow-handler`, …). */
export interface FaultKind<Spec extends FaultSpec = FaultSpec> {
  readonly kind: string;
  /** One line for `mfsim chaos run --help` and the plan docs. */
  readonly summary: string;
  /**
   * Checks a plan's entry for this kind (already known to have `kind`, `target`, `at`, `for`),
   * throwing `PlanError` naming the field (`faults[2].latencyMs`) for anything wrong.
   */
  parse(raw: Record<string, unknown>, path: string): Spec;
  /**
   * Before the run: why this fault cannot be done on the stack as it is (no TCP proxy for a
   * network fault, no such service process), in one line; undefined when it can.
   */
  preflight?(spec: Spec, state: StackState): string | undefined;
  start(spec: Spec, ctx: FaultContext): Promise<ActiveFault>;
}

/** What every fault entry of a plan has. */
export interface FaultSpec {
  readonly kind: string;
  /** A service or replica id (`xfs-fs`, `mm-process-2`), `kafka`, `postgres`, `redis`, or an edge (`xfs-fs->postgres`). */
  readonly target: string;
  /** Start, in ms after the workload began. */
  readonly atMs: number;
  /** How long it lasts, in ms. */
  readonly forMs: number;
}

/** A plan that cannot be run: the message names the file's field. */
export class PlanError extends Error {
  constructor(
    readonly field: string,
    problem: string,
  ) {
    super(`${field}: ${problem}`);
    this.name = 'PlanError';
  }
}
