/**
 * Every fault kind `mfsim chaos run` knows, by name: process faults (process.ts: kill, pause),
 * network faults on the proxy's edges (network.ts: latency, blackhole, reset; the stack must run
 * with `mfsim stack up --proxies`) and application faults (app.ts: slow-handler, consumer-delay,
 * duplicate, malformed).
 */
import { APP_FAULTS } from './app';
import type { FaultKind } from './fault';
import { NETWORK_FAULTS } from './network';
import { killFault, pauseFault } from './process';

export const FAULT_KINDS: readonly FaultKind[] = [killFault, pauseFault, ...NETWORK_FAULTS, ...APP_FAULTS];

export function faultKind(kind: string): FaultKind | undefined {
  return FAULT_KINDS.find((k) => k.kind === kind);
}
