import { Pool, type PoolClient } from 'pg';

import {
  decodeJson,
  decodeState,
  diffEntities,
  encodeJson,
  encodeState,
  type CallRecord,
  type Entities,
  type Subsystem,
  type SubsystemState,
  type XfsRmapIrec,
} from '@mfsim/kernel-model';

import { incidentOf, UnknownRunError, type HopStore, type OpenChain, type StepChanges, type StepView } from './hop-store';

interface Cached {
  version: string;
  entities: Entities;
  state: SubsystemState;
}

/** One rmap record of one AG, for the xfs-fs set-up. */
export interface RmapRow {
  readonly fs: string;
  readonly agno: bigint;
  readonly rec: XfsRmapIrec;
}

const BATCH = 5000;

/**
 * The HopStore of a PostgreSQL service (pmem-driver, dax-core, dm-mapper, xfs-fs): tables
 * `<subsys>_run` (a version per run, locked FOR UPDATE by each step, so replicas take turns),
 * `<subsys>_entity` and `<subsys>_call`; xfs-fs also answers rmap reads from `xfs_rmap`
 * through its GiST index.
 */
export class PgHopStore implements HopStore {
  private readonly pool: Pool;
  private readonly cache = new Map<string, Cached>();
  private readonly t: { run: string; entity: string; call: string };

  constructor(
    private readonly subsys: Exclude<Subsystem, 'mm'>,
    databaseUrl: string,
    poolSize = 8,
  ) {
    this.pool = new Pool({ connectionString: databaseUrl, max: poolSize });
    // An idle client's error (the server restarted) must not crash the service.
    this.pool.on('error', () => undefined);
    this.t = { run: `${subsys}_run`, entity: `${subsys}_entity`, call: `${subsys}_call` };
  }

  async setup(run: string, entities: Entities, rmap: readonly RmapRow[] = []): Promise<void> {
    await this.tx(async (c) => {
      await c.query(`DELETE FROM ${this.t.entity} WHERE run_id = $1`, [run]);
      await c.query(`DELETE FROM ${this.t.call} WHERE run_id = $1`, [run]);
      if (this.subsys === 'xfs') await c.query('DELETE FROM xfs_rmap WHERE run_id = $1', [run]);
      await c.query(
        `INSERT INTO ${this.t.run} (run_id, version) VALUES ($1, 1) ON CONFLICT (run_id) DO UPDATE SET version = ${this.t.run}.version + 1`,
        [run],
      );
      await this.putEntities(c, run, entities, []);
      for (let i = 0; i < rmap.length; i += BATCH) {
        const part = rmap.slice(i, i + BATCH);
        await c.query(
          `INSERT INTO xfs_rmap (run_id, fs, agno, startblock, blockcount, owner, file_offset, flags, blocks)
           SELECT $1, fs, agno, sb, bc, ow, fo, fl, int8range(sb, sb + bc)
             FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::numeric[], $7::bigint[], $8::int[])
               AS r(fs, agno, sb, bc, ow, fo, fl)`,
          [
            run,
            part.map((r) => r.fs),
            part.map((r) => r.agno.toString()),
            part.map((r) => r.rec.startblock.toString()),
            part.map((r) => r.rec.blockcount.toString()),
            part.map((r) => r.rec.owner.toString()),
            part.map((r) => r.rec.offset.toString()),
            part.map((r) => r.rec.flags),
          ],
        );
      }
    });
    this.cache.delete(run);
  }

  async step<T>(run: string, chain: string, fn: (view: StepView) => Promise<StepChanges<T>>): Promise<T> {
    try {
      return await this.tx(async (c) => {
        const row = await c.query<{ version: string }>(`SELECT version::text AS version FROM ${this.t.run} WHERE run_id = $1 FOR UPDATE`, [run]);
        const version = row.rows[0]?.version;
        if (version === undefined) throw new UnknownRunError(run);
        let cached = this.cache.get(run);
        if (!cached || cached.version !== version) {
          const rows = await c.query<{ key: string; value: string }>(`SELECT key, value FROM ${this.t.entity} WHERE run_id = $1`, [run]);
          const entities: Entities = new Map(rows.rows.map((r) => [r.key, r.value]));
          cached = { version, entities, state: decodeState(this.subsys, entities) };
          this.cache.set(run, cached);
        }
        const records = await this.loadChain(c, run, chain);
        const view: StepView = { state: cached.state, records, read: (op, args) => this.read(c, run, op, args) };
        const changes = await fn(view);
        const after = encodeState(this.subsys, cached.state);
        const { put, del } = diffEntities(cached.entities, after);
        const touched = [...changes.touched].map((id) => records.get(id)).filter((r): r is CallRecord => r !== undefined);
        if (put.size > 0 || del.length > 0 || touched.length > 0) {
          await this.putEntities(c, run, put, del);
          await this.putRecords(c, run, touched);
          const v = await c.query<{ version: string }>(`UPDATE ${this.t.run} SET version = version + 1 WHERE run_id = $1 RETURNING version::text AS version`, [run]);
          cached.version = v.rows[0]?.version ?? cached.version;
          cached.entities = after;
        }
        return changes.value;
      });
    } catch (err) {
      // The decoded state may hold half a step: forget it.
      this.cache.delete(run);
      throw err;
    }
  }

  async chainRecords(run: string, chain: string): Promise<Map<string, CallRecord>> {
    return this.loadChain(this.pool, run, chain);
  }

  private async loadChain(c: Pick<PoolClient, 'query'>, run: string, chain: string): Promise<Map<string, CallRecord>> {
    const recs = await c.query<{ record: string }>(`SELECT record FROM ${this.t.call} WHERE run_id = $1 AND chain = $2`, [run, chain]);
    const records = new Map<string, CallRecord>();
    for (const r of recs.rows) {
      const rec = decodeJson(r.record) as CallRecord;
      records.set(rec.id, rec);
    }
    return records;
  }

  async entities(run: string): Promise<Entities> {
    const exists = await this.pool.query(`SELECT 1 FROM ${this.t.run} WHERE run_id = $1`, [run]);
    if (exists.rowCount === 0) throw new UnknownRunError(run);
    const rows = await this.pool.query<{ key: string; value: string }>(`SELECT key, value FROM ${this.t.entity} WHERE run_id = $1`, [run]);
    return new Map(rows.rows.map((r) => [r.key, r.value]));
  }

  async incidentRecords(run: string, incident: string): Promise<CallRecord[]> {
    const rows = await this.pool.query<{ record: string }>(`SELECT record FROM ${this.t.call} WHERE run_id = $1 AND incident = $2`, [run, incident]);
    return rows.rows.map((r) => decodeJson(r.record) as CallRecord);
  }

  async openChains(olderThanMs: number): Promise<OpenChain[]> {
    const rows = await this.pool.query<{ run_id: string; chain: string }>(
      `SELECT DISTINCT run_id, chain FROM ${this.t.call} WHERE status = 'open' AND updated_at < now() - ($1::int * interval '1 millisecond') LIMIT 1000`,
      [olderThanMs],
    );
    return rows.rows.map((r) => ({ run: r.run_id, chain: r.chain }));
  }

  async drop(run: string): Promise<void> {
    await this.tx(async (c) => {
      for (const table of [this.t.entity, this.t.call, this.t.run]) await c.query(`DELETE FROM ${table} WHERE run_id = $1`, [run]);
      if (this.subsys === 'xfs') await c.query('DELETE FROM xfs_rmap WHERE run_id = $1', [run]);
    });
    this.cache.delete(run);
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  private async read(c: PoolClient, run: string, op: string, args: unknown): Promise<unknown> {
    const a = args as { fs: string; agno: bigint; low: bigint; high: bigint };
    if (op === 'xfs.refcountQueryRange') return this.refcountQuery(c, run, a);
    if (op !== 'xfs.rmapQueryRange') throw new Error(`${this.subsys}: no read ${op}`);
    // Key order of the rmapbt: startblock, owner (unsigned), offset; on the columns, not on
    // the text the rows are returned as.
    const rows = await c.query<{ sb: string; bc: string; ow: string; fo: string; flags: number }>(
      `SELECT r.startblock::text AS sb, r.blockcount::text AS bc, r.owner::text AS ow, r.file_offset::text AS fo, r.flags
         FROM xfs_rmap r
        WHERE r.run_id = $1 AND r.fs = $2 AND r.agno = $3 AND r.blocks && int8range($4::bigint, $5::bigint, '[]')
        ORDER BY r.startblock, r.owner, r.file_offset, r.flags`,
      [run, a.fs, a.agno.toString(), a.low.toString(), a.high.toString()],
    );
    return rows.rows.map(
      (r): XfsRmapIrec => ({ startblock: BigInt(r.sb), blockcount: BigInt(r.bc), owner: BigInt(r.ow), offset: BigInt(r.fo), flags: r.flags }),
    );
  }

  /**
   * The refcount btree's answer, from the rmap: per block of [low, high], how many data records
   * (not metadata: owner bit 63 clear, no attr-fork/bmbt flag) cover it; blocks shared by two or
   * more, merged into records. One GiST probe per block (a fault asks for at most 512).
   */
  private async refcountQuery(c: PoolClient, run: string, a: { fs: string; agno: bigint; low: bigint; high: bigint }): Promise<unknown> {
    const rows = await c.query<{ b: string; n: number }>(
      `SELECT g.b::text AS b, count(*)::int AS n
         FROM generate_series($4::bigint, $5::bigint) AS g(b)
         JOIN xfs_rmap r ON r.run_id = $1 AND r.fs = $2 AND r.agno = $3::bigint AND r.blocks @> g.b
        WHERE r.owner < 9223372036854775808 AND (r.flags & 3) = 0
        GROUP BY g.b HAVING count(*) >= 2 ORDER BY g.b`,
      [run, a.fs, a.agno.toString(), a.low.toString(), a.high.toString()],
    );
    const out: { startblock: bigint; blockcount: bigint; refcount: number }[] = [];
    for (const r of rows.rows) {
      const b = BigInt(r.b);
      const last = out[out.length - 1];
      if (last && last.refcount === r.n && last.startblock + last.blockcount === b) last.blockcount += 1n;
      else out.push({ startblock: b, blockcount: 1n, refcount: r.n });
    }
    return out;
  }

  private async putEntities(c: PoolClient, run: string, put: Entities, del: readonly string[]): Promise<void> {
    const keys = [...put.keys()];
    for (let i = 0; i < keys.length; i += BATCH) {
      const part = keys.slice(i, i + BATCH);
      await c.query(
        `INSERT INTO ${this.t.entity} (run_id, key, value) SELECT $1, k, v FROM unnest($2::text[], $3::text[]) AS e(k, v)
         ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value`,
        [run, part, part.map((k) => put.get(k))],
      );
    }
    if (del.length > 0) await c.query(`DELETE FROM ${this.t.entity} WHERE run_id = $1 AND key = ANY($2::text[])`, [run, del]);
  }

  private async putRecords(c: PoolClient, run: string, records: readonly CallRecord[]): Promise<void> {
    if (records.length === 0) return;
    await c.query(
      `INSERT INTO ${this.t.call} (run_id, id, chain, incident, status, record, updated_at)
       SELECT $1, id, ch, inc, st, rec, now() FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS r(id, ch, inc, st, rec)
       ON CONFLICT (run_id, id) DO UPDATE SET status = EXCLUDED.status, record = EXCLUDED.record, updated_at = now()`,
      [run, records.map((r) => r.id), records.map((r) => r.chain), records.map((r) => incidentOf(r.id)), records.map((r) => r.status), records.map((r) => encodeJson(r))],
    );
  }

  private async tx<T>(fn: (c: PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      const value = await fn(c);
      await c.query('COMMIT');
      return value;
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }
}
