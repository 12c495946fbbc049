import { ROOT_CONTEXT, trace, TraceFlags, type Context } from '@opentelemetry/api';

const UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

/**
 * A context inside the trace of an incident, for work that belongs to the incident but runs
 * outside any of its spans (a hop host resending a call nobody answered). The trace id of an
 * incident is its uuid without dashes, and its root parent the low 64 bits of it: the same rule
 * as `incidentTraceparent` of @mfsim/scenario, which the CLI sends on the root call
 * (docs/distributed-mode.md, "Traces"). Undefined when `incidentId` is not a uuid.
 */
export function incidentTraceContext(incidentId: string, base: Context = ROOT_CONTEXT): Context | undefined {
  const m = UUID.exec(incidentId);
  if (!m) return undefined;
  const traceId = m.slice(1).join('').toLowerCase();
  if (/^0+$/.test(traceId)) return undefined;
  const low = traceId.slice(16);
  const spanId = /^0+$/.test(low) ? '0000000000000001' : low;
  return trace.setSpanContext(base, { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
}
