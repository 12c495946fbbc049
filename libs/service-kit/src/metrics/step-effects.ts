/**
 * What one hop step newly did, read from what the model left behind — its state and the call
 * records of the chain — without deciding anything itself: a snapshot before the step, a diff
 * after it. A replayed step (a redelivery, or a hop re-run up to the call that waited) adds no
 * signal, shutdown or log line the first run already made, so it counts nothing twice.
 */
import {
  shutdownName,
  type CallRecord,
  type MmState,
  type ShutdownReason,
  type SignalRecord,
  type Subsystem,
  type SubsystemState,
  type XfsState,
} from '@mfsim/kernel-model';

/** The counters a step starts from. */
export interface StepSnapshot {
  /** mm: how many signals the model had sent. */
  readonly signals: number;
  /** xfs: each mount's shutdown flags. */
  readonly shutdown: ReadonlyMap<string, number>;
  /** mm: how many events each record of the loaded chains had. */
  readonly events: ReadonlyMap<string, number>;
}

/** What a step newly did, in kernel terms. */
export interface StepEffects {
  /** Signals sent (send_sig_mceerr / force_sig_mceerr / the fault's SIGBUS). */
  readonly signals: readonly Pick<SignalRecord, 'signo' | 'code'>[];
  /** Filesystems shut down, by xfs_force_shutdown() reason. */
  readonly shutdowns: readonly ShutdownReason[];
  /** Page-table entries zapped, one number per unmap_mapping_pages() that zapped any. */
  readonly unmaps: readonly number[];
}

export const NO_EFFECTS: StepEffects = { signals: [], shutdowns: [], unmaps: [] };

const EMPTY = new Map<string, number>();

/** Before a step: the counters it may move. Cheap: only mm and xfs look at anything. */
export function snapshotStep(subsys: Subsystem, state: SubsystemState, records: ReadonlyMap<string, CallRecord>): StepSnapshot {
  if (subsys === 'mm') {
    const events = new Map<string, number>();
    for (const [id, rec] of records) events.set(id, rec.events.length);
    return { signals: (state as MmState).signals.length, shutdown: EMPTY, events };
  }
  if (subsys === 'xfs') {
    const shutdown = new Map<string, number>();
    for (const [fs, mp] of (state as XfsState).mounts) shutdown.set(fs, mp.shutdown);
    return { signals: 0, shutdown, events: EMPTY };
  }
  return { signals: 0, shutdown: EMPTY, events: EMPTY };
}

/** The model's own line for a zap (mm/fault.ts unmapMappingPages): `…: N page(s) unmapped`. */
const UNMAPPED = /^unmap_mapping_pages\(.*\): (\d+) page\(s\) unmapped$/;

/** After a step: what it added to the state and to the records it touched. */
export function stepEffects(
  subsys: Subsystem,
  before: StepSnapshot,
  state: SubsystemState,
  records: ReadonlyMap<string, CallRecord>,
  touched: ReadonlySet<string>,
): StepEffects {
  if (subsys === 'mm') {
    const sent = (state as MmState).signals;
    const signals = sent.length > before.signals ? sent.slice(before.signals).map((s) => ({ signo: s.signo, code: s.code })) : [];
    const unmaps: number[] = [];
    for (const id of touched) {
      const rec = records.get(id);
      if (!rec) continue;
      for (let i = before.events.get(id) ?? 0; i < rec.events.length; i++) {
        const ev = rec.events[i];
        if (ev?.kind !== 'log') continue;
        const m = UNMAPPED.exec(ev.text);
        if (m) unmaps.push(Number(m[1]));
      }
    }
    return signals.length === 0 && unmaps.length === 0 ? NO_EFFECTS : { signals, shutdowns: [], unmaps };
  }
  if (subsys === 'xfs') {
    const shutdowns: ShutdownReason[] = [];
    for (const [fs, mp] of (state as XfsState).mounts) {
      if ((before.shutdown.get(fs) ?? 0) !== 0 || mp.shutdown === 0) continue;
      const reason = shutdownName(mp);
      if (reason !== 'none') shutdowns.push(reason);
    }
    return shutdowns.length === 0 ? NO_EFFECTS : { signals: [], shutdowns, unmaps: [] };
  }
  return NO_EFFECTS;
}
