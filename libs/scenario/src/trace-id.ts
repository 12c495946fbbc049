/**
 * One incident = one trace, and its id is known without asking anyone: the W3C trace id of an
 * incident is its uuid without the dashes (32 lowercase hex digits). The CLI starts each root call
 * under that trace (a `traceparent` header on the root call's Kafka message, see
 * docs/distributed-mode.md), the scenario outcome reports it, and a trace link is made from it.
 */

const UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

/** The trace id of an incident (its uuid without dashes, lowercase), or undefined when `incidentId` is not a uuid. */
export function incidentTraceId(incidentId: string): string | undefined {
  const m = UUID.exec(incidentId.trim());
  if (!m) return undefined;
  const hex = m.slice(1).join('').toLowerCase();
  // W3C: an all-zero trace id is invalid (the nil uuid is no incident id).
  return /^0+$/.test(hex) ? undefined : hex;
}

/**
 * The parent span id the CLI puts in an incident's `traceparent`: the low 64 bits of the trace
 * id, fixed per incident so a resent root call lands under the same parent. No span with this id
 * is exported (the CLI runs no tracer); the backends show the root call's spans as the trace's top.
 */
export function incidentRootSpanId(traceId: string): string {
  const low = traceId.slice(16);
  return /^0+$/.test(low) ? '0000000000000001' : low;
}

/** `00-<trace id>-<parent span id>-01` (sampled): the `traceparent` of an incident's root call, or undefined for a non-uuid id. */
export function incidentTraceparent(incidentId: string): string | undefined {
  const traceId = incidentTraceId(incidentId);
  return traceId === undefined ? undefined : `00-${traceId}-${incidentRootSpanId(traceId)}-01`;
}
