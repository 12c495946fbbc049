/**
 * "rmap records of AG g overlapping [low, high]" — the query xfs-fs answers a failure walk
 * with — is a GiST index scan on xfs_rmap, not a table scan, and returns the records in rmapbt
 * key order. (bench/rmap-plan.js shows the same plan and its timing at 10 million records.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { Client } from 'pg';

import { createTestDatabase, TestDatabase } from '@mfsim/testing';

import { migrateDeploy } from '../migrate';
import { PgHopStore } from './pg-hop-store';

const RECORDS = 200_000;

describe('xfs_rmap overlap query', { timeout: 300_000 }, () => {
  let db: TestDatabase;
  let client: Client;

  before(async () => {
    db = await createTestDatabase();
    await migrateDeploy({ databaseUrl: db.url });
    client = new Client({ connectionString: db.url });
    await client.connect();
    // 200,000 records over 4 AGs of one fs, plus 1,000 of another run; one long record per AG.
    await client.query(
      `INSERT INTO xfs_rmap (run_id, fs, agno, startblock, blockcount, owner, file_offset, flags, blocks)
       SELECT 'r1', 'xfs0', g % 4, (g / 4) * 16, 8, 1000 + g, 0, 0, int8range((g / 4) * 16, (g / 4) * 16 + 8)
         FROM generate_series(0, $1 - 1) AS g`,
      [RECORDS],
    );
    await client.query(
      `INSERT INTO xfs_rmap (run_id, fs, agno, startblock, blockcount, owner, file_offset, flags, blocks)
       SELECT 'r1', 'xfs0', a, 3, 2097152, 99, 0, 0, int8range(3, 3 + 2097152) FROM generate_series(0, 3) AS a`,
    );
    await client.query(
      `INSERT INTO xfs_rmap (run_id, fs, agno, startblock, blockcount, owner, file_offset, flags, blocks)
       SELECT 'r2', 'xfs0', 0, g * 16, 8, g, 0, 0, int8range(g * 16, g * 16 + 8) FROM generate_series(0, 999) AS g`,
    );
    await client.query('ANALYZE xfs_rmap');
  });

  after(async () => {
    await client?.end();
    await db?.drop();
  });

  it('is an index scan of xfs_rmap_overlap_idx, not a sequential scan', async () => {
    const plan = await client.query(
      `EXPLAIN SELECT startblock FROM xfs_rmap r
        WHERE r.run_id = 'r1' AND r.fs = 'xfs0' AND r.agno = 2 AND r.blocks && int8range(400000, 400100, '[]')
        ORDER BY r.startblock, r.owner, r.file_offset, r.flags`,
    );
    const text = plan.rows.map((r: Record<string, string>) => r['QUERY PLAN']).join('\n');
    assert.match(text, /Index Scan using xfs_rmap_overlap_idx|Bitmap Index Scan on xfs_rmap_overlap_idx/, text);
    assert.doesNotMatch(text, /Seq Scan/, text);
  });

  it('answers through PgHopStore in key order, long record included, other runs excluded', async () => {
    const store = new PgHopStore('xfs', db.url, 1);
    await client.query(`INSERT INTO xfs_run (run_id, version) VALUES ('r1', 1)`);
    try {
      const recs = await store.step('r1', '5d0c2f9e-3b1a-4c7e-9f21-7a4b8c6d0e11', async (view) => ({
        touched: new Set<string>(),
        value: (await view.read('xfs.rmapQueryRange', { fs: 'xfs0', agno: 2n, low: 400_000n, high: 400_040n })) as { startblock: bigint; owner: bigint }[],
      }));
      // The long record (startblock 3, 2 Mi blocks) overlaps; then every 16 blocks one record.
      assert.deepEqual(
        recs.map((r) => r.startblock),
        [3n, 400_000n, 400_016n, 400_032n],
      );
      assert.equal(recs[0]?.owner, 99n);
    } finally {
      await store.close();
    }
  });
});
