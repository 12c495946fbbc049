import { Pool } from 'pg';

import { decodeJson, encodeJson, type CallRecord } from '@mfsim/kernel-model';

import { incidentOf, type IncidentRow } from './hop-store';

/** An incident row as the journal reads it back. */
export type IncidentEntry = IncidentRow & { readonly startedAt: Date; readonly finishedAt: Date | null };

/**
 * The incident journal in PostgreSQL: one `incident` row per root call, written by the service
 * that serves the root (open when it arrives, done or panic when its tree has returned), and
 * `mm_call`, where mm-process copies the call records it keeps in Redis so a tree can be drawn
 * from PostgreSQL alone. Every write is an upsert: repeating one changes nothing.
 */
export class IncidentJournal {
  private readonly pool: Pool;

  constructor(databaseUrl: string) {
    // The journal is what `incident show` reads, not what a step depends on (the services'
    // own tables and Redis are): it does not wait for the WAL flush.
    this.pool = new Pool({ connectionString: databaseUrl, max: 4, options: '-c synchronous_commit=off' });
    this.pool.on('error', () => undefined);
  }

  async upsert(row: IncidentRow): Promise<void> {
    await this.pool.query(
      `INSERT INTO incident (id, run_id, op, args, service, status, result, started_at, finished_at)
       VALUES ($1, $2, $3, $4, $5, $6::varchar, $7, now(), CASE WHEN $6::varchar = 'open' THEN NULL ELSE now() END)
       ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, result = EXCLUDED.result,
         finished_at = CASE WHEN EXCLUDED.status = 'open' THEN incident.finished_at ELSE COALESCE(incident.finished_at, now()) END
       WHERE incident.status = 'open'`,
      [row.id, row.run, row.op, row.args, row.service, row.status, row.result],
    );
  }

  /** mm-process: copies call records (as they are now) into mm_call. */
  async copyRecords(run: string, records: readonly CallRecord[]): Promise<void> {
    if (records.length === 0) return;
    await this.pool.query(
      `INSERT INTO mm_call (run_id, id, chain, incident, status, record, updated_at)
       SELECT $1, id, ch, inc, st, rec, now() FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(id, ch, inc, st, rec)
       ON CONFLICT (run_id, id) DO UPDATE SET status = EXCLUDED.status, record = EXCLUDED.record, updated_at = now()`,
      [run, records.map((r) => r.id), records.map((r) => r.chain), records.map((r) => incidentOf(r.id)), records.map((r) => r.status), records.map((r) => encodeJson(r))],
    );
  }

  /** Every service's records of one incident (for `mfsim incident show`). */
  async records(incident: string): Promise<CallRecord[]> {
    const parts = ['pmem', 'dax', 'dm', 'xfs', 'mm'].map((s) => `SELECT record FROM ${s}_call WHERE incident = $1`);
    const rows = await this.pool.query<{ record: string }>(parts.join(' UNION ALL '), [incident]);
    return rows.rows.map((r) => decodeJson(r.record) as CallRecord);
  }

  async list(limit: number, run?: string): Promise<IncidentEntry[]> {
    const rows = await this.pool.query<{ id: string; run_id: string; op: string; args: string; service: string; status: IncidentRow['status']; result: string | null; started_at: Date; finished_at: Date | null }>(
      `SELECT * FROM incident ${run ? 'WHERE run_id = $2' : ''} ORDER BY started_at DESC LIMIT $1`,
      run ? [limit, run] : [limit],
    );
    return rows.rows.map((r) => ({ id: r.id, run: r.run_id, op: r.op, args: r.args, service: r.service, status: r.status, result: r.result, startedAt: r.started_at, finishedAt: r.finished_at }));
  }

  async get(id: string): Promise<IncidentEntry | null> {
    const rows = await this.pool.query<{ id: string; run_id: string; op: string; args: string; service: string; status: IncidentRow['status']; result: string | null; started_at: Date; finished_at: Date | null }>(
      'SELECT * FROM incident WHERE id = $1',
      [id],
    );
    const r = rows.rows[0];
    return r ? { id: r.id, run: r.run_id, op: r.op, args: r.args, service: r.service, status: r.status, result: r.result, startedAt: r.started_at, finishedAt: r.finished_at } : null;
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
