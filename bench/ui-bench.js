#!/usr/bin/env node
// `mfsim ui` with many incidents: fills a scratch database with N incidents (default 10,000), each
// the five services' call records of a real reflinked failure (scenarios/examples/03 run through
// the in-process cluster, so the records are what the services store), pfns spread over 100 pages
// and pids over 50 processes; then starts the UI's source and HTTP server on it and measures:
// the start (reading and indexing every incident), the list, deep pages, each filter, the detail of
// one incident, and how long a new incident takes to reach the list.
//   node bench/ui-bench.js [--incidents N] [--requests R] [--keep]
// Needs the build and PostgreSQL at MFSIM_TEST_DATABASE_URL (default
// postgresql://postgres@127.0.0.1:5432/postgres). Prints figures; asserts nothing.
'use strict';
const path = require('node:path');
const http = require('node:http');
const { readFileSync } = require('node:fs');
const { execFileSync } = require('node:child_process');
const { randomUUID } = require('node:crypto');

const ROOT = path.join(__dirname, '..');
const { Client } = require(require.resolve('pg', { paths: [path.join(ROOT, 'libs', 'persistence')] }));
const { parseScenario, runScenarioDistributed, SimCluster } = require(path.join(ROOT, 'libs', 'scenario', 'dist'));
const { encodeJson, ownerOf } = require(path.join(ROOT, 'libs', 'kernel-model', 'dist'));
const { PgSource } = require(path.join(ROOT, 'tools', 'cli', 'dist', 'ui', 'ui-source'));
const { startUiServer } = require(path.join(ROOT, 'tools', 'cli', 'dist', 'ui', 'ui-server'));

const args = process.argv.slice(2);
const opt = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
const N = opt('--incidents', 10_000);
const R = opt('--requests', 200);
const admin = process.env.MFSIM_TEST_DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/postgres';
const name = `mfsim_uibench_${process.pid}`;
const say = (s) => process.stdout.write(`${s}\n`);

function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
    }).on('error', reject);
  });
}

function stats(ms) {
  const s = [...ms].sort((a, b) => a - b);
  const q = (p) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return `p50 ${q(0.5).toFixed(2)} ms  p99 ${q(0.99).toFixed(2)} ms  max ${s[s.length - 1].toFixed(2)} ms`;
}

async function measure(label, base, paths, status = 200) {
  const times = [];
  let bytes = 0;
  let total;
  for (let i = 0; i < R; i++) {
    const p = paths[i % paths.length];
    const t = process.hrtime.bigint();
    const r = await get(base + p);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (r.status !== status) throw new Error(`${p}: HTTP ${r.status} ${r.body}`);
    bytes += r.body.length;
    if (total === undefined) total = JSON.parse(r.body).total;
  }
  say(`  ${label.padEnd(34)} ${stats(times)}  (${(bytes / R / 1024).toFixed(1)} KiB${total !== undefined ? `, ${total} match` : ''})`);
}

/** One real incident's records as the services store them, per table. */
async function template() {
  const file = path.join(ROOT, 'scenarios', 'examples', '03-reflinked-block-two-owners.yaml');
  const parsed = parseScenario(readFileSync(file, 'utf8'), file);
  const cluster = new SimCluster();
  const run = await runScenarioDistributed(parsed.scenario, cluster);
  const id = run.injections[0].incident.incident;
  const recs = await cluster.records(id);
  return { id, rows: [...recs.values()].map((r) => ({ table: `${ownerOf(r.op)}_call`, id: r.id, chain: r.chain, status: r.status, record: encodeJson(r) })) };
}

async function fill(c, tpl) {
  const t0 = Date.now() - N * 200; // one incident every 200 ms, the newest now
  const BATCH = 500;
  for (let b = 0; b < N; b += BATCH) {
    const inc = { id: [], run: [], args: [], started: [], finished: [] };
    const calls = new Map();
    for (let k = b; k < Math.min(N, b + BATCH); k++) {
      const id = randomUUID();
      const pfn = 0x123450 + (k % 100);
      const pid = 1000 + (k % 50);
      const start = t0 + k * 200;
      inc.id.push(id);
      inc.run.push(`bench-${Math.floor(k / 100)}`);
      inc.args.push(encodeJson({ pid, start: 0x7f2000000000n, pages: 1n }));
      inc.started.push(new Date(start));
      inc.finished.push(new Date(start + 60));
      tpl.rows.forEach((r, j) => {
        const text = r.record
          .split(tpl.id).join(id)
          .split('"pfn":{"$n":"1193040"}').join(`"pfn":{"$n":"${pfn}"}`)
          .split('"pid":201').join(`"pid":${pid}`)
          .split(':201 ').join(`:${pid} `)
          .split(':201\n').join(`:${pid}\n`);
        const list = calls.get(r.table) ?? { id: [], chain: [], incident: [], status: [], record: [], created: [], updated: [] };
        list.id.push(r.id.split(tpl.id).join(id));
        list.chain.push(r.chain.split(tpl.id).join(id));
        list.incident.push(id);
        list.status.push(r.status);
        list.record.push(text);
        list.created.push(new Date(start + j * 4));
        list.updated.push(new Date(start + 40 - j * 2));
        calls.set(r.table, list);
      });
    }
    await c.query(
      `INSERT INTO incident (id, run_id, op, args, service, status, result, started_at, finished_at)
       SELECT id, run, 'mm.madviseInjectError', args, 'mm', 'done', '0', s, f FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS x(id, run, args, s, f)`,
      [inc.id, inc.run, inc.args, inc.started, inc.finished],
    );
    for (const [table, l] of calls) {
      await c.query(
        `INSERT INTO ${table} (run_id, id, chain, incident, status, record, created_at, updated_at)
         SELECT 'bench', id, ch, inc, st, rec, cr, up FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[]) AS x(id, ch, inc, st, rec, cr, up)`,
        [l.id, l.chain, l.incident, l.status, l.record, l.created, l.updated],
      );
    }
    process.stdout.write(`\rfilling: ${Math.min(N, b + BATCH).toLocaleString()} / ${N.toLocaleString()} incidents`);
  }
  await c.query('ANALYZE');
}

async function main() {
  const a = new Client({ connectionString: admin });
  await a.connect();
  await a.query(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  const c = new Client({ connectionString: url.toString() });
  let source;
  let server;
  try {
    execFileSync(process.execPath, [path.join(ROOT, 'libs', 'persistence', 'bin', 'migrate.js'), 'deploy'], { env: { ...process.env, DATABASE_URL: url.toString() }, stdio: 'pipe' });
    await c.connect();
    const tpl = await template();
    let t = Date.now();
    await fill(c, tpl);
    const size = await c.query("SELECT count(*)::int AS n FROM (SELECT 1 FROM pmem_call UNION ALL SELECT 1 FROM dax_call UNION ALL SELECT 1 FROM xfs_call UNION ALL SELECT 1 FROM mm_call) x");
    say(`\nfilled ${N.toLocaleString()} incidents (${tpl.rows.length} call records each, ${size.rows[0].n.toLocaleString()} in all) in ${((Date.now() - t) / 1000).toFixed(1)} s`);

    t = Date.now();
    const rss0 = process.memoryUsage().rss;
    source = await PgSource.open({ databaseUrl: url.toString(), traceTemplate: null, pollMs: 250 });
    say(`UI start, list served (every incident row read): ${((Date.now() - t) / 1000).toFixed(2)} s`);
    while ((await source.list({ offset: 0, limit: 1 })).indexing > 0) await new Promise((r) => setTimeout(r, 20));
    say(`facets of every finished incident indexed (${N.toLocaleString()} incidents, in the background): ${((Date.now() - t) / 1000).toFixed(2)} s, RSS +${((process.memoryUsage().rss - rss0) / 2 ** 20).toFixed(0)} MiB`);
    server = await startUiServer({ source, faults: [], historyFile: null, host: '127.0.0.1', port: 0 });
    const base = server.url.replace(/\/$/, '');
    const ids = JSON.parse((await get(`${base}/api/incidents?limit=500&offset=${Math.floor(N / 2)}`)).body).items.map((i) => i.id);

    for (let i = 0; i < 20; i++) await get(`${base}/api/incidents?pid=${1000 + i}`);
    say(`API latency over HTTP (${R} requests each, one at a time, after 20 warm-up requests):`);
    await measure('list, first page (50)', base, ['/api/incidents']);
    await measure('list, a deep page (offset N-100)', base, [`/api/incidents?offset=${N - 100}`]);
    await measure('filter pfn (1 in 100)', base, ['/api/incidents?pfn=0x123461', '/api/incidents?pfn=0x123499']);
    await measure('filter pid (1 in 50)', base, ['/api/incidents?pid=1007', '/api/incidents?pid=1033']);
    await measure('filter device (all match)', base, ['/api/incidents?device=pmem0']);
    await measure('filter pid + pfn (none match)', base, ['/api/incidents?pid=1001&pfn=0x123450']);
    await measure('detail of one incident', base, ids.map((id) => `/api/incidents/${id}`));
    await measure('400: malformed filter (pfn=zz)', base, ['/api/incidents?pfn=zz'], 400);
    await measure('404: unknown incident', base, [`/api/incidents/${randomUUID()}`], 404);

    // A new incident: how long until the list (what the page reloads on the SSE event) has it.
    const fresh = randomUUID();
    const seen = new Promise((resolve) => {
      const off = source.onChange(() => {
        source.list({ offset: 0, limit: 1 }).then((p) => {
          if (p.items[0]?.id === fresh && p.items[0].status === 'done') {
            off();
            resolve();
          }
        });
      });
    });
    t = Date.now();
    await c.query(
      `INSERT INTO incident (id, run_id, op, args, service, status, result, started_at, finished_at) VALUES ($1, 'bench-new', 'mm.madviseInjectError', $2, 'mm', 'done', '0', now(), now())`,
      [fresh, encodeJson({ pid: 1, start: 0n, pages: 1n })],
    );
    await seen;
    say(`a new incident reaches the list (poll every 250 ms): ${Date.now() - t} ms`);
  } finally {
    await server?.close();
    await source?.close();
    await c.end().catch(() => undefined);
    if (!args.includes('--keep')) await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    else say(`kept database ${name}`);
    await a.end();
  }
}

main().catch((err) => {
  process.stderr.write(`ui-bench: ${err && err.stack ? err.stack : err}\n`);
  process.exitCode = 1;
});
