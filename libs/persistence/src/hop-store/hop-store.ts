import type { CallRecord, Entities, SubsystemState } from '@mfsim/kernel-model';

/** What one step of a host sees: its subsystem's state for the run and the chain's records. */
export interface StepView {
  readonly state: SubsystemState;
  readonly records: Map<string, CallRecord>;
  /** Answers a read of the subsystem's stored structures inside the step's transaction. */
  read(op: string, args: unknown): Promise<unknown>;
}

/** What a step reports back: the records it changed or created. */
export interface StepChanges<T> {
  readonly touched: ReadonlySet<string>;
  readonly value: T;
}

/** A run the store has no set-up for (a bad run id, or one already removed). */
export class UnknownRunError extends Error {
  override readonly name = 'UnknownRunError';
  constructor(readonly run: string) {
    super(`unknown run ${run}: nothing was set up for it here`);
  }
}

/** A chain waiting on another host, as the recovery sweep finds it. */
export interface OpenChain {
  readonly run: string;
  readonly chain: string;
}

/** One incident row as the journal keeps it. */
export interface IncidentRow {
  readonly id: string;
  readonly run: string;
  readonly op: string;
  readonly args: string;
  readonly service: string;
  readonly status: 'open' | 'done' | 'panic' | 'error';
  readonly result: string | null;
}

/**
 * A host's durable state: its subsystem's entities and call records per run, changed only in
 * atomic steps. A step loads the state (or reuses the decoded copy while nobody else has
 * written the run) and the chain's records, runs, and stores the entities that changed, the
 * records it touched and a new version — all or nothing.
 */
export interface HopStore {
  /** Creates (or replaces) a run with its initial entities. Idempotent. */
  setup(run: string, entities: Entities): Promise<void>;
  /** Runs one atomic step over (run, chain); retried from a fresh load on a write conflict. */
  step<T>(run: string, chain: string, fn: (view: StepView) => Promise<StepChanges<T>>): Promise<T>;
  /** The run's entities as stored. */
  entities(run: string): Promise<Entities>;
  /** Records of the calls (any chain) of one incident (call ids `<incident>` and `<incident>.…`). */
  incidentRecords(run: string, incident: string): Promise<CallRecord[]>;
  /** The records of one chain as stored (read only: no lock, no state). */
  chainRecords(run: string, chain: string): Promise<Map<string, CallRecord>>;
  /** Chains with an open record not written for `olderThanMs` (waiting on a lost message?). */
  openChains(olderThanMs: number): Promise<OpenChain[]>;
  /** Removes everything of a run. */
  drop(run: string): Promise<void>;
  close(): Promise<void>;
}

/** The incident a call id belongs to: its first segment. */
export function incidentOf(callId: string): string {
  const dot = callId.indexOf('.');
  return dot < 0 ? callId : callId.slice(0, dot);
}
