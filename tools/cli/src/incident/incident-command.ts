/**
 * `mfsim incident list|show`: the incidents the distributed stack journaled in PostgreSQL, and
 * one incident's kernel call tree drawn from the call records the five services kept
 * (IncidentJournal → traceFromRecords → renderTrace, as `mfsim scenario run` draws it).
 * Errors for a person are one line: bad usage, a malformed or unknown id and a database that
 * cannot be reached exit 2.
 */
import { Client } from 'pg';

import type { CallRecord } from '@mfsim/kernel-model';
import { IncidentJournal } from '@mfsim/persistence';
import { renderTrace, traceFromRecords } from '@mfsim/scenario';

import { traceLinker, TraceLinkError } from '../distributed/trace-link';

import {
  checkDatabaseUrl,
  databaseProblem,
  DEFAULT_DATABASE_URL,
  INCIDENT_USAGE,
  listJson,
  parseIncidentArgs,
  renderHeader,
  renderList,
  renderServiceSummary,
  showJson,
  type IncidentView,
} from './incident-format';

export interface IncidentIo {
  readonly env: NodeJS.ProcessEnv;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Colours in the tree (the default: stdout is a terminal and NO_COLOR is unset). */
  readonly color?: boolean;
}

const defaultIo = (): IncidentIo => ({
  env: process.env,
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
});

/** How long a connection to PostgreSQL may take before the command gives up (a black-holed host). */
const CONNECT_TIMEOUT_MS = 5_000;

/** A problem meant for a person: one line, then exit with its code. */
class IncidentError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2,
  ) {
    super(message);
  }
}

/** Runs `mfsim incident <args>`; returns the exit code. */
export async function runIncidentCommand(args: string[], io: IncidentIo = defaultIo()): Promise<number> {
  const parsed = parseIncidentArgs(args);
  const prefix = `mfsim incident${args[0] === 'list' || args[0] === 'show' ? ` ${args[0]}` : ''}`;
  if ('problem' in parsed) {
    io.err(`${prefix}: ${parsed.problem}\n${parsed.usage ? `${INCIDENT_USAGE}\n` : ''}`);
    return 2;
  }
  const url = io.env['DATABASE_URL']?.trim() || DEFAULT_DATABASE_URL;
  const badUrl = checkDatabaseUrl(url);
  if (badUrl !== undefined) {
    io.err(`${prefix}: ${badUrl}\n`);
    return 2;
  }
  let link: ReturnType<typeof traceLinker>;
  try {
    link = traceLinker(io.env);
  } catch (err) {
    if (!(err instanceof TraceLinkError)) throw err;
    io.err(`${prefix}: ${err.message}\n`);
    return 2;
  }
  let journal: IncidentJournal | undefined;
  try {
    await preflight(url);
    journal = new IncidentJournal(url);
    if (parsed.command === 'list') {
      const rows = (await journal.list(parsed.limit, parsed.run)) as IncidentView[];
      if (parsed.json) {
        for (const row of rows) io.out(`${JSON.stringify(listJson(row, link))}\n`);
      } else if (rows.length === 0) {
        io.out(`no incidents${parsed.run ? ` in run ${parsed.run}` : ''} (they are journaled when a root call reaches the stack)\n`);
      } else {
        io.out(`${renderList(rows, link).join('\n')}\n`);
      }
      return 0;
    }
    const row = (await journal.get(parsed.id)) as IncidentView | null;
    if (row === null) throw new IncidentError(`no incident ${parsed.id} (see mfsim incident list)`, 2);
    const records = await journal.records(parsed.id);
    if (parsed.json) {
      io.out(`${showJson(row, records, link)}\n`);
      return 0;
    }
    const color = io.color ?? (Boolean(process.stdout.isTTY) && !io.env['NO_COLOR']);
    const lines = [...renderHeader(row), ''];
    const trace = traceFromRecords(parsed.id, new Map<string, CallRecord>(records.map((r) => [r.id, r])));
    if (trace) lines.push(...renderTrace(trace, { color, verbose: parsed.verbose }).map((l) => `  ${l}`));
    else lines.push('  (no call record of the root call: the service serving it has not stored it yet)');
    lines.push('', ...renderServiceSummary(records));
    const traceUrl = link?.(row.id);
    if (traceUrl !== undefined) lines.push('', `trace ${traceUrl}`);
    io.out(`${lines.join('\n')}\n`);
    return 0;
  } catch (err) {
    const problem = err instanceof IncidentError ? err : databaseProblem(err, url);
    io.err(`${prefix}: ${problem.message}\n`);
    if (!(err instanceof IncidentError) && problem.exitCode === 1 && io.env['MFSIM_DEBUG']) io.err(`${(err as Error).stack ?? String(err)}\n`);
    return problem.exitCode;
  } finally {
    await journal?.close().catch(() => undefined);
  }
}

/**
 * Connects once with a timeout (the journal's pool has none) and checks that the incident table
 * exists, so a stopped server, a missing database or one without migrations is one clear line.
 */
async function preflight(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ t: string | null }>("SELECT to_regclass('incident')::text AS t");
    if (r.rows[0]?.t == null) throw Object.assign(new Error('relation "incident" does not exist'), { code: '42P01' });
  } finally {
    await client.end().catch(() => undefined);
  }
}
