/**
 * Where `mfsim ui` reads incidents from. Both sources keep a catalog in memory — one small summary
 * per incident (head, facets, signal count), newest first — so that filtering and paging happen
 * on the server without loading call records; the detail of one incident is built on request.
 *
 * - PgSource: the incident journal and the five services' call records in PostgreSQL. It polls
 *   for new and changed incidents (the `incident_started_idx` index keeps that cheap), and indexes
 *   each finished incident's facets once, in batches.
 * - EmbeddedSource: scenario files run in-process with the embedded model (trace on); no times.
 */
import { Client, Pool } from 'pg';

import { decodeJson, type CallRecord } from '@mfsim/kernel-model';
import { parseScenario, runScenario, type Scenario } from '@mfsim/scenario';

import { shortArgs, shortResult } from '../incident/incident-format';
import {
  decodeArgs,
  facetsOf,
  findings,
  flatten,
  hopsFromRecords,
  hopsFromTrace,
  kernelFn,
  matches,
  serviceOfOp,
  traceUrl,
  type Hop,
  type IncidentDetail,
  type IncidentHead,
  type ListItem,
  type ListQuery,
  type RecordTimes,
} from './ui-model';

export interface ListPage {
  readonly items: ListItem[];
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly version: number;
  /** Finished incidents whose facets are not indexed yet (just after start): a filter may miss them. */
  readonly indexing: number;
}

export interface UiSource {
  readonly kind: 'postgres' | 'embedded';
  list(q: ListQuery): Promise<ListPage>;
  detail(id: string): Promise<IncidentDetail | null>;
  version(): number;
  /** Called whenever the catalog changed (a new incident, one finished). Returns an unsubscribe. */
  onChange(fn: () => void): () => void;
  close(): Promise<void>;
}

/** The database has the incident tables but predates a migration the page needs. */
export class SchemaTooOldError extends Error {
  override readonly name = 'SchemaTooOldError';
}

/** The in-memory list both sources serve from. */
export class Catalog {
  private readonly items = new Map<string, ListItem>();
  private sorted: ListItem[] = [];
  private dirty = false;
  private ver = 0;
  private readonly listeners = new Set<() => void>();

  get size(): number {
    return this.items.size;
  }

  get(id: string): ListItem | undefined {
    return this.items.get(id);
  }

  /** Adds or replaces items; tells the listeners once if anything changed. */
  put(items: readonly ListItem[]): void {
    let changed = false;
    for (const item of items) {
      const old = this.items.get(item.id);
      if (old && JSON.stringify(old) === JSON.stringify(item)) continue;
      this.items.set(item.id, item);
      changed = true;
    }
    if (!changed) return;
    this.dirty = true;
    this.ver += 1;
    for (const fn of this.listeners) fn();
  }

  version(): number {
    return this.ver;
  }

  onChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  list(q: ListQuery): ListPage {
    if (this.dirty) {
      this.sorted = [...this.items.values()].sort((a, b) => b.startedMs - a.startedMs || (a.id < b.id ? -1 : 1));
      this.dirty = false;
    }
    const hits = this.sorted.filter((i) => matches(i, q));
    return { items: hits.slice(q.offset, q.offset + q.limit), total: hits.length, offset: q.offset, limit: q.limit, version: this.ver, indexing: 0 };
  }
}

interface IncidentSqlRow {
  id: string;
  run_id: string;
  op: string;
  args: string;
  service: string;
  status: IncidentHead['status'];
  result: string | null;
  started_at: Date;
  finished_at: Date | null;
}

function headOf(r: IncidentSqlRow): IncidentHead {
  return {
    id: r.id,
    run: r.run_id,
    op: r.op,
    fn: kernelFn(r.op),
    service: serviceOfOp(r.op),
    args: shortArgs(r.args, 120),
    status: r.status,
    result: shortResult({ status: r.status, result: r.result }, 120),
    startedMs: r.started_at.getTime(),
    finishedMs: r.finished_at ? r.finished_at.getTime() : null,
  };
}

const CALL_TABLES = ['pmem', 'dax', 'dm', 'xfs', 'mm'] as const;
const RECORDS_SQL = (where: string): string =>
  CALL_TABLES.map(
    (s) => `SELECT incident, record, (extract(epoch from created_at) * 1000)::float8 AS c, (extract(epoch from updated_at) * 1000)::float8 AS u FROM ${s}_call WHERE ${where}`,
  ).join(' UNION ALL ');

interface RecordSqlRow {
  incident: string;
  record: string;
  c: number;
  u: number;
}

export interface PgSourceOptions {
  readonly databaseUrl: string;
  readonly traceTemplate: string | null;
  /** How often the journal is polled for new and changed incidents. */
  readonly pollMs?: number;
  /** How many finished incidents are indexed per query. */
  readonly batch?: number;
}

/** Rows that started within this window of the newest seen are read again (commits land out of order). */
const SLACK_MS = 30_000;

export class PgSource implements UiSource {
  readonly kind = 'postgres' as const;
  private readonly pool: Pool;
  private readonly catalog = new Catalog();
  /** Incidents read while open, or finished and not yet indexed. */
  private readonly pending = new Set<string>();
  private readonly indexed = new Set<string>();
  private cursorMs = Number.NEGATIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> | undefined;
  private lastError: string | null = null;

  private constructor(private readonly opts: PgSourceOptions) {
    this.pool = new Pool({ connectionString: opts.databaseUrl, max: 4, connectionTimeoutMillis: 5_000 });
    this.pool.on('error', () => undefined);
  }

  /**
   * Checks the database (one clear error if it is not there) and reads every incident row; the
   * facets of the finished ones are indexed afterwards, in the background, while the list is
   * already served (ListPage.indexing says how many are left). Then polls.
   */
  static async open(opts: PgSourceOptions): Promise<PgSource> {
    const client = new Client({ connectionString: opts.databaseUrl, connectionTimeoutMillis: 5_000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      const r = await client.query<{ t: string | null; c: string | null }>(
        "SELECT to_regclass('incident')::text AS t, (SELECT column_name::text FROM information_schema.columns WHERE table_name = 'pmem_call' AND column_name = 'created_at' LIMIT 1) AS c",
      );
      if (r.rows[0]?.t == null) throw Object.assign(new Error('relation "incident" does not exist'), { code: '42P01' });
      if (r.rows[0]?.c == null) throw new SchemaTooOldError('the call tables have no created_at column (migration 20261205070000_ui_times): apply the migrations (`npm run db:deploy`, or `npx mfsim stack up`)');
    } finally {
      await client.end().catch(() => undefined);
    }
    const source = new PgSource(opts);
    await source.sync(false);
    if (source.lastError !== null) throw new Error(source.lastError);
    void source.sync();
    source.timer = setInterval(() => void source.sync(), opts.pollMs ?? 500);
    source.timer.unref();
    return source;
  }

  /** The last polling error (the database went away), or null. */
  problem(): string | null {
    return this.lastError;
  }

  /** Reads new and changed incident rows, then (unless `index` is false) indexes the finished ones. */
  sync(index = true): Promise<void> {
    this.syncing ??= this.syncOnce(index).finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async syncOnce(index: boolean): Promise<void> {
    try {
      const since = Number.isFinite(this.cursorMs) ? new Date(this.cursorMs - SLACK_MS) : new Date(0);
      const rows = await this.pool.query<IncidentSqlRow>(
        `SELECT id, run_id, op, args, service, status, result, started_at, finished_at FROM incident WHERE started_at > $1
         UNION SELECT id, run_id, op, args, service, status, result, started_at, finished_at FROM incident WHERE id = ANY($2::text[])`,
        [since, [...this.pending]],
      );
      const fresh: ListItem[] = [];
      for (const r of rows.rows) {
        if (r.started_at.getTime() > this.cursorMs) this.cursorMs = r.started_at.getTime();
        if (this.indexed.has(r.id)) continue;
        const head = headOf(r);
        const known = this.catalog.get(r.id);
        fresh.push({ ...head, facets: known?.facets ?? facetsOf(decodeArgs(r.args), [], []), signals: known?.signals ?? 0 });
        this.pending.add(r.id);
      }
      this.catalog.put(fresh);
      if (index) await this.indexFinished();
      this.lastError = null;
    } catch (err) {
      this.lastError = err instanceof Error ? err.message.split('\n')[0] ?? 'error' : String(err);
    }
  }

  /** Facets and signal counts of the finished incidents not yet indexed, `batch` at a time. */
  private async indexFinished(): Promise<void> {
    const batch = this.opts.batch ?? 250;
    const done = [...this.pending].filter((id) => this.catalog.get(id)?.status !== 'open');
    for (let i = 0; i < done.length; i += batch) {
      const ids = done.slice(i, i + batch);
      const rows = await this.pool.query<RecordSqlRow>(RECORDS_SQL('incident = ANY($1::text[])'), [ids]);
      const byIncident = new Map<string, RecordSqlRow[]>();
      for (const r of rows.rows) byIncident.set(r.incident, [...(byIncident.get(r.incident) ?? []), r]);
      const items: ListItem[] = [];
      for (const id of ids) {
        const item = this.catalog.get(id);
        if (!item) continue;
        const built = build(item, byIncident.get(id) ?? []);
        items.push({ ...item, facets: built.facets, signals: built.signals.length });
        this.pending.delete(id);
        this.indexed.add(id);
      }
      this.catalog.put(items);
    }
  }

  list(q: ListQuery): Promise<ListPage> {
    let waiting = 0;
    for (const id of this.pending) if (this.catalog.get(id)?.status !== 'open') waiting++;
    return Promise.resolve({ ...this.catalog.list(q), indexing: waiting });
  }

  async detail(id: string): Promise<IncidentDetail | null> {
    const r = await this.pool.query<IncidentSqlRow>('SELECT id, run_id, op, args, service, status, result, started_at, finished_at FROM incident WHERE id = $1', [id]);
    const row = r.rows[0];
    if (!row) return null;
    const head = headOf(row);
    const recs = await this.pool.query<RecordSqlRow>(RECORDS_SQL('incident = $1'), [id]);
    const built = build(head, recs.rows);
    return { incident: head, tree: built.tree, timing: 'recorded', signals: built.signals, owners: built.owners, shutdowns: built.shutdowns, dmPath: built.dmPath, facets: built.facets, traceUrl: traceUrl(this.opts.traceTemplate, id) };
  }

  version(): number {
    return this.catalog.version();
  }

  onChange(fn: () => void): () => void {
    return this.catalog.onChange(fn);
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.syncing?.catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}

function build(head: IncidentHead, rows: readonly RecordSqlRow[]): { tree: Hop | null } & Pick<IncidentDetail, 'signals' | 'owners' | 'shutdowns' | 'dmPath' | 'facets'> {
  const records: CallRecord[] = [];
  const times = new Map<string, RecordTimes>();
  for (const r of rows) {
    let rec: CallRecord;
    try {
      rec = decodeJson(r.record) as CallRecord;
    } catch {
      continue;
    }
    records.push(rec);
    times.set(rec.id, { createdMs: r.c, updatedMs: r.u });
  }
  const tree = hopsFromRecords(head.id, records, times, head.startedMs);
  const argsById = new Map<string, unknown>();
  for (const rec of records) {
    argsById.set(rec.id, rec.args);
    for (const c of rec.children) if (!argsById.has(c.id)) argsById.set(c.id, c.args);
  }
  const found = findings(tree, (hopId) => argsById.get(hopId));
  const rootArgs = records.find((r) => r.id === head.id)?.args;
  return { tree, ...found, facets: facetsOf(rootArgs, [...argsById.values()], found.signals) };
}

/** A scenario to run in-process: its file and parsed content. */
export interface EmbeddedScenario {
  readonly file: string;
  readonly scenario: Scenario;
}

/** Reads and validates scenario files (`mfsim scenario check` rules); a problem is one line. */
export function loadScenario(file: string, text: string): EmbeddedScenario | { problem: string } {
  const parsed = parseScenario(text, file);
  if (!parsed.ok) {
    const first = parsed.issues[0];
    return { problem: `${file}: ${first ? `${first.path || '(file)'}: ${first.message}` : 'invalid scenario'}` };
  }
  return { file, scenario: parsed.scenario };
}

interface EmbeddedIncident {
  readonly head: IncidentHead;
  readonly tree: Hop | null;
  readonly args: Map<string, unknown>;
}

/** Scenario runs with the embedded model: every injection is an incident (no times: order only). */
export class EmbeddedSource implements UiSource {
  readonly kind = 'embedded' as const;
  private readonly catalog = new Catalog();
  private readonly incidents = new Map<string, EmbeddedIncident>();

  /** Runs the scenarios one after the other; `now` stamps each incident (the page's list order). */
  run(scenarios: readonly EmbeddedScenario[], now: () => number = Date.now): void {
    for (const { scenario } of scenarios) {
      const run = runScenario(scenario, undefined, { trace: 'full' });
      const items: ListItem[] = [];
      for (const inj of run.injections) {
        if (!inj.trace) continue;
        const id = inj.incident.incident;
        const args = new Map<string, unknown>();
        const tree = hopsFromTrace(id, inj.trace, args);
        const at = now();
        const status: IncidentHead['status'] = inj.rc === 'PANIC' ? 'panic' : 'done';
        const head: IncidentHead = {
          id,
          run: scenario.name.slice(0, 64),
          op: inj.trace.op,
          fn: kernelFn(inj.trace.op),
          service: serviceOfOp(inj.trace.op),
          args: tree.text.replace(/^[^(]*\(/, '').replace(/\)( = .*)?$/, ''),
          status,
          result: status === 'panic' ? 'panic' : tree.text.includes(' = ') ? (tree.text.split(' = ').pop() ?? '') : '-',
          startedMs: at,
          finishedMs: at,
        };
        const found = findings(tree, (h) => args.get(h));
        this.incidents.set(id, { head, tree, args });
        items.push({ ...head, facets: facetsOf(inj.trace.args, [...args.values()], found.signals), signals: found.signals.length });
      }
      this.catalog.put(items);
    }
  }

  list(q: ListQuery): Promise<ListPage> {
    return Promise.resolve(this.catalog.list(q));
  }

  detail(id: string): Promise<IncidentDetail | null> {
    const inc = this.incidents.get(id);
    if (!inc) return Promise.resolve(null);
    const found = findings(inc.tree, (h) => inc.args.get(h));
    const facets = facetsOf(undefined, [...inc.args.values()], found.signals);
    return Promise.resolve({ incident: inc.head, tree: inc.tree, timing: 'order', ...found, facets, traceUrl: null });
  }

  version(): number {
    return this.catalog.version();
  }

  onChange(fn: () => void): () => void {
    return this.catalog.onChange(fn);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

export { flatten };
