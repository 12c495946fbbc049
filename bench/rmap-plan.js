#!/usr/bin/env node
// The rmap query xfs-fs answers a failure walk with, at scale: N records (default 10 million) in
// xfs_rmap of a scratch database, one long (2^21-block) record per AG, then the plan of
// "records of AG g overlapping [low, high]" and the latency of 2,000 random such queries.
//   node bench/rmap-plan.js [--records N] [--keep]
// Needs the build (libs/persistence/bin/migrate.js) and PostgreSQL at MFSIM_TEST_DATABASE_URL
// (default postgresql://postgres@127.0.0.1:5432/postgres). Prints figures; asserts nothing.
'use strict';
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Client } = require(require.resolve('pg', { paths: [path.join(__dirname, '..', 'libs', 'persistence')] }));

const args = process.argv.slice(2);
const N = Number(args[args.indexOf('--records') + 1]) || 10_000_000;
const AGS = 16;
const admin = process.env.MFSIM_TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
const name = `mfsim_rmapbench_${process.pid}`;
const say = (s) => process.stdout.write(`${s}\n`);

async function main() {
  const a = new Client({ connectionString: admin });
  await a.connect();
  await a.query(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const c = new Client({ connectionString: url.toString() });
  try {
    execFileSync(process.execPath, [path.join(__dirname, '..', 'libs', 'persistence', 'bin', 'migrate.js'), 'deploy'], { env: { ...process.env, DATABASE_URL: url.toString() }, stdio: 'pipe' });
    await c.connect();
    let t = Date.now();
    await c.query('DROP INDEX xfs_rmap_overlap_idx');
    const perAg = Math.ceil(N / AGS);
    for (let ag = 0; ag < AGS; ag++) {
      await c.query(
        `INSERT INTO xfs_rmap (run_id, fs, agno, startblock, blockcount, owner, file_offset, flags, blocks)
         SELECT 'r1', 'xfs0', $1, g * 8, 4, 1000 + g, 0, 0, int8range(g * 8, g * 8 + 4) FROM generate_series(0, $2 - 1) AS g`,
        [ag, perAg],
      );
      await c.query(`INSERT INTO xfs_rmap VALUES ('r1', 'xfs0', $1, 5, 2097152, 7, 0, 0, int8range(5, 5 + 2097152))`, [ag]);
      process.stdout.write(`\rinserting: AG ${ag + 1}/${AGS} (${((ag + 1) * perAg).toLocaleString()} records, ${((Date.now() - t) / 1000).toFixed(0)} s)`);
    }
    say(`\ninserted ${(perAg * AGS).toLocaleString()} records + ${AGS} long ones in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    t = Date.now();
    await c.query('CREATE INDEX xfs_rmap_overlap_idx ON xfs_rmap USING gist (run_id, fs, agno, blocks)');
    await c.query('ANALYZE xfs_rmap');
    say(`GiST index built and analyzed in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    const size = await c.query(`SELECT pg_size_pretty(pg_total_relation_size('xfs_rmap')) AS s, pg_size_pretty(pg_relation_size('xfs_rmap_overlap_idx')) AS i`);
    say(`table+index ${size.rows[0].s}, index ${size.rows[0].i}`);
    const q = `SELECT r.startblock, r.blockcount, r.owner, r.file_offset, r.flags FROM xfs_rmap r
               WHERE r.run_id = 'r1' AND r.fs = 'xfs0' AND r.agno = $1 AND r.blocks && int8range($2::bigint, $3::bigint, '[]')
               ORDER BY r.startblock, r.owner, r.file_offset, r.flags`;
    const mid = Math.floor(perAg / 2) * 8;
    const plan = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${q.replace('$1', '7::bigint').replace('$2', String(mid)).replace('$3', String(mid + 7))}`);
    say('\nplan of one single-page failure lookup (AG 7, middle of the AG):');
    for (const r of plan.rows) say(`  ${r['QUERY PLAN']}`);
    const times = [];
    for (let i = 0; i < 2000; i++) {
      const ag = i % AGS;
      const low = Math.floor(Math.random() * perAg) * 8;
      const s = process.hrtime.bigint();
      const r = await c.query(q, [ag, low, low + 7]);
      times.push(Number(process.hrtime.bigint() - s) / 1e6);
      // One short record per 8 blocks; the long one too below block 5 + 2^21.
      const expected = low < 5 + 2097152 ? 2 : 1;
      if (r.rowCount !== expected) throw new Error(`expected ${expected} record(s) at AG ${ag} block ${low}, got ${r.rowCount}`);
    }
    times.sort((x, y) => x - y);
    const pct = (p) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))].toFixed(3);
    say(`\n2,000 random single-page lookups: p50 ${pct(50)} ms, p99 ${pct(99)} ms, max ${times[times.length - 1].toFixed(3)} ms (round trip included)`);
  } finally {
    await c.end().catch(() => undefined);
    if (!args.includes('--keep')) await a.query(`DROP DATABASE IF EXISTS ${name}`);
    await a.end();
  }
}

main().catch((err) => {
  process.stderr.write(`rmap-plan: ${err.message}\n`);
  process.exit(1);
});
