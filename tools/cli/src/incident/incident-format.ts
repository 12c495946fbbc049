/**
 * The pure half of `mfsim incident list|show`: argument parsing, the columns of the list, the
 * header and per-service summary of one incident, and the one-line messages for a database
 * that cannot be reached. Nothing here touches the network.
 */
import type { IncidentEntry } from '@mfsim/persistence';
import { decodeJson, encodeJson, hex, KERNEL_FUNCTION, mfFlagsToString, ownerOf, rcToString, type CallRecord, type OpName, type Rc } from '@mfsim/kernel-model';
import { incidentTraceId } from '@mfsim/scenario';

/** incident id → the URL of its trace (trace-link.ts), when a trace backend is known. */
export type TraceLink = (incidentId: string) => string | undefined;

export const DEFAULT_DATABASE_URL = 'postgresql://postgres@127.0.0.1:5432/mfsim';
export const DEFAULT_LIMIT = 20;
export const MAX_LIMIT = 10_000;

/** One `incident` row as IncidentJournal.list/get return it. */
export type IncidentView = IncidentEntry;

export type IncidentArgs =
  | { readonly command: 'list'; readonly run: string | undefined; readonly limit: number; readonly json: boolean }
  | { readonly command: 'show'; readonly id: string; readonly json: boolean; readonly verbose: boolean };

export const INCIDENT_USAGE = `usage:
  mfsim incident list [--run RUN] [--limit N] [--json]
  mfsim incident show ID [--json] [--verbose]
  (mfsim incident list --help, mfsim incident show --help)`;

const SERVICE_OF: Readonly<Record<string, string>> = { pmem: 'pmem-driver', dax: 'dax-core', dm: 'dm-mapper', xfs: 'xfs-fs', mm: 'mm-process' };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** An incident id is the uuid a root call was given (the first segment of every call id under it). */
export function isIncidentId(text: string): boolean {
  return UUID.test(text);
}

/** A problem with the arguments (exit 2); `usage`: print the usage below it (not for a bad ID). */
export interface ArgProblem {
  readonly problem: string;
  readonly usage: boolean;
}

/** Parses `incident list|show …`. */
export function parseIncidentArgs(args: readonly string[]): IncidentArgs | ArgProblem {
  const r = parseOrString(args);
  if (typeof r !== 'string') return r;
  return { problem: r, usage: !r.includes('is not an incident id') };
}

function parseOrString(args: readonly string[]): IncidentArgs | string {
  const [command, ...rest] = args;
  if (command === undefined) return 'no subcommand given (list or show)';
  if (command !== 'list' && command !== 'show') return `unknown subcommand ${command} (list or show)`;
  let json = false;
  let verbose = false;
  let run: string | undefined;
  let limit = DEFAULT_LIMIT;
  const positional: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i] as string;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq < 0 ? a : a.slice(0, eq);
    const value = (): string | undefined => (eq < 0 ? rest[++i] : a.slice(eq + 1));
    if (flag === '--json' && eq < 0) json = true;
    else if (command === 'show' && (flag === '--verbose' || flag === '-v') && eq < 0) verbose = true;
    else if (command === 'list' && flag === '--run') {
      const v = value();
      if (v === undefined || v === '' || v.startsWith('-')) return '--run needs a run id';
      if (v.length > 64) return `--run: a run id has at most 64 characters, got ${v.length}`;
      run = v;
    } else if (command === 'list' && flag === '--limit') {
      const v = value();
      if (v === undefined || !/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > MAX_LIMIT) {
        return `--limit needs a whole number from 1 to ${MAX_LIMIT}, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`;
      }
      limit = Number(v);
    } else if (a.startsWith('-') && a !== '-') return `unknown option ${a} for incident ${command}`;
    else positional.push(a);
  }
  if (command === 'list') {
    if (positional.length > 0) return `incident list takes no arguments, got ${positional[0]}`;
    return { command, run, limit, json };
  }
  if (positional.length === 0) return 'incident show needs an incident ID (see mfsim incident list)';
  if (positional.length > 1) return `incident show takes one ID, got ${positional.length}`;
  const id = positional[0] as string;
  if (!isIncidentId(id)) return `${JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}…` : id)} is not an incident id (a uuid such as 3f2b9c1e-8d4a-4b7e-9a61-0c5d2e7f4a10)`;
  return { command, id: id.toLowerCase(), json, verbose };
}

/** The kernel function an op models, or the op itself when it is not one the model knows. */
export function kernelFunction(op: string): string {
  return (KERNEL_FUNCTION as Record<string, string>)[op] ?? op;
}

const HEX_ARGS = new Set(['pfn', 'addr', 'start', 'offset', 'len']);

function shortValue(key: string, v: unknown): string {
  if (key === 'mfFlags' && typeof v === 'number') return mfFlagsToString(v).replace(/ \(.*$/, '');
  if (typeof v === 'bigint') return HEX_ARGS.has(key) ? hex(v) : v.toString();
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.partition === 'string' || typeof o.disk === 'string') return String(o.partition ?? o.disk);
    if (typeof o.name === 'string') return o.name;
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x));
  }
  return String(v);
}

/** `pid=100, start=0x7f0000000000, pages=1`: the arguments of a root call, from their stored text. */
export function shortArgs(argsText: string, max = 48): string {
  let args: unknown;
  try {
    args = decodeJson(argsText);
  } catch {
    return clip(argsText, max);
  }
  const text =
    args !== null && typeof args === 'object' && !Array.isArray(args)
      ? Object.entries(args as Record<string, unknown>)
          .map(([k, v]) => `${k === 'mfFlags' ? 'flags' : k}=${shortValue(k, v)}`)
          .join(', ')
      : shortValue('', args);
  return clip(text, max);
}

function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function isRc(v: unknown): v is Rc {
  return v === 0 || (typeof v === 'string' && /^E[A-Z]+$/.test(v));
}

/** What a root call returned, short: `0`, `-EHWPOISON`, `panic: …`, `error: …`, `-` while open. */
export function shortResult(row: Pick<IncidentView, 'status' | 'result'>, max = 40): string {
  if (row.status === 'open' || row.result === null) return '-';
  if (row.status === 'panic') return clip(`panic: ${row.result}`, max);
  if (row.status === 'error') return clip(`error: ${row.result}`, max);
  let v: unknown;
  try {
    v = decodeJson(row.result);
  } catch {
    return clip(row.result, max);
  }
  if (isRc(v)) return rcToString(v);
  if (v === null) return 'NULL';
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if ('mountError' in o) return o.mountError ? `-${String(o.mountError)}` : `0${o.dax ? ' (dax)' : ''}`;
    if ('rc' in o && isRc(o.rc)) return rcToString(o.rc);
  }
  return clip(typeof v === 'object' ? JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) : String(v), max);
}

/** finished − started: `850ms`, `2.40s`, `3m05s`; `running` while open. */
export function formatDuration(startedAt: Date, finishedAt: Date | null): string {
  if (finishedAt === null) return 'running';
  const ms = Math.max(0, finishedAt.getTime() - startedAt.getTime());
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

const LIST_HEADER = ['ID', 'RUN', 'FUNCTION', 'ARGS', 'STATUS', 'RESULT', 'DURATION'] as const;

/** The cells of one list line, in LIST_HEADER order, then the trace link when `link` is given. */
export function listCells(row: IncidentView, link?: TraceLink): string[] {
  const cells = [row.id, row.run, kernelFunction(row.op), shortArgs(row.args), row.status, shortResult(row), formatDuration(row.startedAt, row.finishedAt)];
  return link ? [...cells, link(row.id) ?? '-'] : cells;
}

/** The list as aligned columns under a header (the rows newest first, as given); each row ends with its trace link when `link` is given. */
export function renderList(rows: readonly IncidentView[], link?: TraceLink): string[] {
  const header: string[] = link ? [...LIST_HEADER, 'TRACE'] : [...LIST_HEADER];
  const table = [header, ...rows.map((row) => listCells(row, link))];
  const widths = header.map((_h, c) => Math.max(...table.map((r) => (r[c] as string).length)));
  return table.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] as number)))
      .join('  ')
      .trimEnd(),
  );
}

function parsedOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * One `--json` list object: stored values as they are (bigints stay {"$n":"…"}, as encodeJson
 * writes them), the incident's trace id, and its trace link when `link` is given.
 */
export function listJson(row: IncidentView, link?: TraceLink): Record<string, unknown> {
  const url = link?.(row.id);
  return {
    id: row.id,
    run: row.run,
    op: row.op,
    function: kernelFunction(row.op),
    args: parsedOrText(row.args),
    service: SERVICE_OF[row.service] ?? row.service,
    status: row.status,
    result: row.result === null ? null : row.status === 'done' ? parsedOrText(row.result) : row.result,
    startedAt: row.startedAt.toISOString(),
    finishedAt: row.finishedAt ? row.finishedAt.toISOString() : null,
    durationMs: row.finishedAt ? row.finishedAt.getTime() - row.startedAt.getTime() : null,
    traceId: incidentTraceId(row.id) ?? null,
    ...(url !== undefined ? { traceUrl: url } : {}),
  };
}

const SERVICE_ORDER = ['pmem-driver', 'dax-core', 'dm-mapper', 'xfs-fs', 'mm-process'];

/** The service that serves an op (`mm.memoryFailure` → mm-process). */
export function serviceOf(op: string): string {
  const subsys = op.includes('.') ? ownerOf(op as OpName) : op;
  return SERVICE_OF[subsys] ?? subsys;
}

/** The header of `incident show`. */
export function renderHeader(row: IncidentView): string[] {
  const status = row.status === 'open' ? 'open (the tree below is what has been recorded so far)' : row.status;
  return [
    `incident ${row.id}`,
    `  run       ${row.run}`,
    `  root      ${kernelFunction(row.op)}(${shortArgs(row.args, 120)})  served by ${serviceOf(row.op)}`,
    `  status    ${status}`,
    `  started   ${row.startedAt.toISOString()}`,
    `  duration  ${formatDuration(row.startedAt, row.finishedAt)}`,
    `  result    ${shortResult(row, 200)}`,
  ];
}

/** Which service served how many of the incident's calls, in stack order. */
export function serviceCounts(records: readonly CallRecord[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const r of records) counts.set(serviceOf(r.op), (counts.get(serviceOf(r.op)) ?? 0) + 1);
  const rank = (s: string): number => (SERVICE_ORDER.indexOf(s) < 0 ? SERVICE_ORDER.length : SERVICE_ORDER.indexOf(s));
  return [...counts.entries()].sort((a, b) => rank(a[0]) - rank(b[0]) || a[0].localeCompare(b[0]));
}

export function renderServiceSummary(records: readonly CallRecord[]): string[] {
  const counts = serviceCounts(records);
  if (counts.length === 0) return ['calls served: none recorded'];
  const width = Math.max(...counts.map(([s]) => s.length));
  return [
    `calls served (${records.length} in all):`,
    ...counts.map(([s, n]) => `  ${s.padEnd(width)}  ${n} call${n === 1 ? '' : 's'}`),
  ];
}

/** Call ids in tree order: `a.2` before `a.10`, a caller before its calls. */
export function compareCallIds(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    const na = Number(pa[i]);
    const nb = Number(pb[i]);
    return i > 0 && Number.isInteger(na) && Number.isInteger(nb) ? na - nb : (pa[i] as string).localeCompare(pb[i] as string);
  }
  return pa.length - pb.length;
}

/** `--json` of show: the incident row and every record (encodeJson: bigints as {"$n":"…"}), one line. */
export function showJson(row: IncidentView, records: readonly CallRecord[], link?: TraceLink): string {
  const sorted = [...records].sort((a, b) => compareCallIds(a.id, b.id));
  return encodeJson({ incident: listJson(row, link), records: sorted.map((r) => ({ service: serviceOf(r.op), ...r })) });
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

/** Problems with DATABASE_URL itself (exit 2), or undefined. */
export function checkDatabaseUrl(url: string): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return `DATABASE_URL is not a URL: ${JSON.stringify(url)}`;
  }
  if (u.protocol !== 'postgresql:' && u.protocol !== 'postgres:') return `DATABASE_URL must be a postgresql:// URL, got ${u.protocol}//…`;
  return undefined;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', 'EPIPE']);

function errorCode(err: unknown): string | undefined {
  if (err === null || typeof err !== 'object') return undefined;
  const e = err as { code?: unknown; errors?: unknown[] };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors)) for (const inner of e.errors) if (errorCode(inner)) return errorCode(inner);
  return undefined;
}

/**
 * The one line for a database error, and whether it is the database's absence (exit 2: down,
 * unreachable, missing, not migrated) rather than something else (exit 1).
 */
export function databaseProblem(err: unknown, url: string): { message: string; exitCode: 1 | 2 } {
  const where = redactUrl(url);
  const code = errorCode(err);
  const text = err instanceof Error ? err.message.split('\n')[0] : String(err);
  const hint = 'start the stack with `npx mfsim stack up` (or set DATABASE_URL)';
  if ((code && UNREACHABLE.has(code)) || /timeout|terminated unexpectedly|Connection terminated/i.test(text)) {
    return { message: `cannot reach PostgreSQL at ${where} (${code ?? text}): ${hint}`, exitCode: 2 };
  }
  if (code === '3D000') return { message: `the database of ${where} does not exist: ${hint}`, exitCode: 2 };
  if (code === '42P01') return { message: `the database at ${where} has no incident tables (migrations not applied): ${hint}`, exitCode: 2 };
  if (code === '28P01' || code === '28000') return { message: `PostgreSQL at ${where} refused the login: ${text}`, exitCode: 2 };
  if (code === '57P03') return { message: `PostgreSQL at ${where} is starting up or shutting down: try again, or ${hint}`, exitCode: 2 };
  return { message: `PostgreSQL at ${where}: ${text}`, exitCode: 1 };
}
