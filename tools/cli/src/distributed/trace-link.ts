/**
 * The link to an incident's trace, for everything that prints incidents (`mfsim scenario run
 * --mode distributed`, `mfsim incident list|show`, a web page of incidents).
 *
 * The trace id of an incident is its uuid without dashes (incidentTraceId, @mfsim/scenario), so a
 * link needs no trace backend to be asked: it is a URL template with `{traceId}` in it, from
 *   1. MFSIM_TRACE_URL (e.g. http://127.0.0.1:16686/trace/{traceId} for the compose stack's Jaeger),
 *   2. else the Zipkin that `mfsim stack up` started (`zipkin.traceUrl` in .mfsim/stack/state.json),
 *   3. else none: no trace backend is known, and no link is printed.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import { incidentTraceId } from '@mfsim/scenario';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** The placeholder a template must hold. */
export const TRACE_ID_PLACEHOLDER = '{traceId}';

/** A bad MFSIM_TRACE_URL: its message is one line for a person. */
export class TraceLinkError extends Error {
  override readonly name = 'TraceLinkError';
}

/** The URL of `incidentId`'s trace, or undefined when the id is not an incident uuid. */
export function traceUrl(template: string, incidentId: string): string | undefined {
  const traceId = incidentTraceId(incidentId);
  return traceId === undefined ? undefined : template.split(TRACE_ID_PLACEHOLDER).join(traceId);
}

/** Checks a template: an http(s) URL holding {traceId}. Returns the problem, or undefined. */
export function traceUrlTemplateProblem(template: string): string | undefined {
  if (!template.includes(TRACE_ID_PLACEHOLDER)) return `it has no ${TRACE_ID_PLACEHOLDER} in it (e.g. http://127.0.0.1:9411/zipkin/traces/${TRACE_ID_PLACEHOLDER})`;
  let u: URL;
  try {
    u = new URL(template.split(TRACE_ID_PLACEHOLDER).join('0'));
  } catch {
    return 'it is not a URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `it must start with http:// or https://, not ${u.protocol}//`;
  return undefined;
}

/**
 * The trace URL template in force (see the head of this file), or undefined when no trace
 * backend is known. Throws a TraceLinkError for a bad MFSIM_TRACE_URL.
 */
export function traceUrlTemplate(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const given = env['MFSIM_TRACE_URL']?.trim();
  if (given) {
    const problem = traceUrlTemplateProblem(given);
    if (problem !== undefined) throw new TraceLinkError(`MFSIM_TRACE_URL=${JSON.stringify(given)}: ${problem}`);
    return given;
  }
  const stateFile = path.join(env['MFSIM_STACK_DIR'] ?? path.join(REPO_ROOT, '.mfsim', 'stack'), 'state.json');
  if (!existsSync(stateFile)) return undefined;
  try {
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { zipkin?: { traceUrl?: unknown } };
    const recorded = state.zipkin?.traceUrl;
    return typeof recorded === 'string' && traceUrlTemplateProblem(recorded) === undefined ? recorded : undefined;
  } catch {
    return undefined;
  }
}

/** incidentId → its trace URL, with the template in force; undefined when no backend is known. */
export function traceLinker(env: NodeJS.ProcessEnv = process.env): ((incidentId: string) => string | undefined) | undefined {
  const template = traceUrlTemplate(env);
  return template === undefined ? undefined : (incidentId) => traceUrl(template, incidentId);
}
