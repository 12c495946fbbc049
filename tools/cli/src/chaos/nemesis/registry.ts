/**
 * Every fault kind `mfsim chaos run` knows, by name. Process faults live in process.ts; the
 * network faults (network.ts: latency, blackhole, reset) and application faults (app.ts: slow
 * handler, consumer delay, duplicated deliveries, malformed messages) are added to this list
 * where they are merged.
 */
import type { FaultKind } from './fault';
import { killFault, pauseFault } from './process';

export const FAULT_KINDS: readonly FaultKind[] = [killFault, pauseFault];

export function faultKind(kind: string): FaultKind | undefined {
  return FAULT_KINDS.find((k) => k.kind === kind);
}
