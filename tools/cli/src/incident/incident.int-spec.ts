/**
 * `mfsim incident list|show` against a real PostgreSQL: a fresh database, the migrations, an
 * incident journaled as the services journal it (its `incident` row, mm-process's records in
 * mm_call and pmem-driver's in pmem_call, encodeJson'd), then the CLI run as a user runs it.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { Client } from 'pg';

import { encodeJson, type CallRecord, type ChildCall } from '@mfsim/kernel-model';
import { renderTrace, traceFromRecords } from '@mfsim/scenario';
import { createTestDatabase, type TestDatabase } from '@mfsim/testing';

const REPO = resolve(__dirname, '../../../..');
const MFSIM = join(REPO, 'tools/cli/bin/mfsim.js');
const MIGRATE = join(REPO, 'libs/persistence/bin/migrate.js');

const U = 'b6f1a0c2-5d3e-4f7a-9b21-3c4d5e6f7a80';
const OLDER = '0c9d8e7f-6a5b-4c3d-8e2f-1a0b9c8d7e6f';
const RUN = 'r5e1f0a9b8c7d6e5f';
const OTHER_RUN = 'r0000000000000001';

const PFN = 0x129205n;
const FLAGS = 0x23; // MF_COUNT_INCREASED | MF_ACTION_REQUIRED | MF_SW_SIMULATED
const FLAGS_TEXT = 'flags=0x23(COUNT_INCREASED|ACTION_REQUIRED|SW_SIMULATED)';

const child = (id: string, op: ChildCall['op'], args: unknown, local: boolean, result: unknown): ChildCall => ({ id, op, args, local, done: true, result });
const log = (subsys: 'mm' | 'pmem', text: string) => ({ kind: 'log' as const, subsys, level: 'info' as const, text });
const call = (index: number) => ({ kind: 'call' as const, index });

/**
 * madvise(MADV_HWPOISON) on a DAX page whose pmem namespace has no holder: mm-process serves the
 * injection and its local calls (one chain), pmem-driver answers get_dev_pagemap and
 * pmem_pagemap_memory_failure (-EOPNOTSUPP), and mm falls back to mf_generic_kill_procs.
 */
const MM_RECORDS: CallRecord[] = [
  {
    id: U,
    op: 'mm.madviseInjectError',
    args: { pid: 100, start: 0x7f0000005000n, pages: 1n },
    ctx: { current: 100 },
    chain: U,
    caller: 'user',
    children: [child(`${U}.1`, 'mm.memoryFailure', { pfn: PFN, mfFlags: FLAGS }, true, 0)],
    events: [log('mm', 'Injecting memory failure for pfn 0x129205 at process virtual address 0x7f0000005000'), call(0)],
    memos: [],
    status: 'done',
    result: 0,
  },
  {
    id: `${U}.1`,
    op: 'mm.memoryFailure',
    args: { pfn: PFN, mfFlags: FLAGS },
    ctx: { current: 100 },
    chain: U,
    caller: null,
    children: [
      child(`${U}.1.1`, 'pmem.getDevPagemap', { pfn: PFN }, false, { disk: 'pmem0', pfnValid: true }),
      child(`${U}.1.2`, 'mm.memoryFailureDevPagemap', { pfn: PFN, mfFlags: FLAGS, disk: 'pmem0', pfnValid: true }, true, 0),
    ],
    events: [call(0), call(1)],
    memos: [],
    status: 'done',
    result: 0,
  },
  {
    id: `${U}.1.2`,
    op: 'mm.memoryFailureDevPagemap',
    args: { pfn: PFN, mfFlags: FLAGS, disk: 'pmem0', pfnValid: true },
    ctx: { current: 100 },
    chain: U,
    caller: null,
    children: [
      child(`${U}.1.2.1`, 'pmem.pmemPagemapMemoryFailure', { disk: 'pmem0', pfn: PFN, nrPages: 1n, mfFlags: FLAGS }, false, 'EOPNOTSUPP'),
      child(`${U}.1.2.2`, 'mm.mfGenericKillProcs', { pfn: PFN, mfFlags: FLAGS }, true, 0),
    ],
    events: [call(0), call(1), log('mm', 'Memory failure: 0x129205: recovery action for dax page: Recovered')],
    memos: [],
    status: 'done',
    result: 0,
  },
  {
    id: `${U}.1.2.2`,
    op: 'mm.mfGenericKillProcs',
    args: { pfn: PFN, mfFlags: FLAGS },
    ctx: { current: 100 },
    chain: U,
    caller: null,
    children: [],
    events: [log('mm', 'Memory failure: 0x129205: Sending SIGBUS to INJ:100 due to hardware memory corruption')],
    memos: [],
    status: 'done',
    result: 0,
  },
];

const PMEM_RECORDS: CallRecord[] = [
  {
    id: `${U}.1.1`,
    op: 'pmem.getDevPagemap',
    args: { pfn: PFN },
    ctx: { current: 100 },
    chain: `${U}.1.1`,
    caller: 'mm',
    callerChain: U,
    children: [],
    events: [],
    memos: [],
    status: 'done',
    result: { disk: 'pmem0', pfnValid: true },
  },
  {
    id: `${U}.1.2.1`,
    op: 'pmem.pmemPagemapMemoryFailure',
    args: { disk: 'pmem0', pfn: PFN, nrPages: 1n, mfFlags: FLAGS },
    ctx: { current: 100 },
    chain: `${U}.1.2.1`,
    caller: 'mm',
    callerChain: U,
    children: [],
    events: [],
    memos: [],
    status: 'done',
    result: 'EOPNOTSUPP',
  },
];

const TREE = [
  '  madvise_inject_error(pid=100, start=0x7f0000005000, pages=1) = 0',
  '  ├─ Injecting memory failure for pfn 0x129205 at process virtual address 0x7f0000005000',
  `  └─ memory_failure(pfn=0x129205, ${FLAGS_TEXT}) = 0`,
  `     └─ memory_failure_dev_pagemap(pfn=0x129205, ${FLAGS_TEXT}, disk=pmem0, pfnValid=true) = 0`,
  `        ├─ pmem_pagemap_memory_failure(disk=pmem0, pfn=0x129205, nrPages=1, ${FLAGS_TEXT}) = -EOPNOTSUPP`,
  `        ├─ mf_generic_kill_procs(pfn=0x129205, ${FLAGS_TEXT}) = 0`,
  '        │  └─ Memory failure: 0x129205: Sending SIGBUS to INJ:100 due to hardware memory corruption',
  '        └─ Memory failure: 0x129205: recovery action for dax page: Recovered',
];

let db: TestDatabase;

function mfsim(args: string[], url = db.url, extra: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> {
  // No trace backend unless a test names one (a developer's own `mfsim stack up` would add links).
  const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, MFSIM_STACK_DIR: join(REPO, '.mfsim', 'no-stack-in-this-test'), ...extra };
  if (extra['MFSIM_TRACE_URL'] === undefined) delete env['MFSIM_TRACE_URL'];
  delete env['NO_COLOR'];
  return spawnSync(process.execPath, [MFSIM, ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env });
}

async function insertCalls(client: Client, table: 'mm_call' | 'pmem_call', records: CallRecord[]): Promise<void> {
  for (const r of records) {
    await client.query(`INSERT INTO ${table} (run_id, id, chain, incident, status, record) VALUES ($1, $2, $3, $4, $5, $6)`, [RUN, r.id, r.chain, U, r.status, encodeJson(r)]);
  }
}

before(async () => {
  db = await createTestDatabase();
});
after(async () => {
  await db?.drop();
});

describe('mfsim incident against PostgreSQL', () => {
  it('a database without the migrations: one line, exit 2, npx mfsim stack up', () => {
    const r = mfsim(['incident', 'list']);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^mfsim incident list: the database at ${db.url.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} has no incident tables \\(migrations not applied\\): start the stack with \`npx mfsim stack up\``));
  });

  it('migrations applied, an incident journaled by two services', async () => {
    execFileSync(process.execPath, [MIGRATE, 'deploy', '--quiet'], { cwd: REPO, env: { ...process.env, DATABASE_URL: db.url }, stdio: 'pipe' });
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(
        `INSERT INTO incident (id, run_id, op, args, service, status, result, started_at, finished_at) VALUES
           ($1, $2, 'mm.madviseInjectError', $3, 'mm', 'done', $4, '2026-12-05T04:00:00.000Z', '2026-12-05T04:00:00.191Z'),
           ($5, $6, 'mm.hwpoisonInject', $7, 'mm', 'open', NULL, '2026-12-05T03:00:00.000Z', NULL)`,
        [U, RUN, encodeJson(MM_RECORDS[0]?.args), encodeJson(0), OLDER, OTHER_RUN, encodeJson({ pfn: 0x100000n })],
      );
      await insertCalls(client, 'mm_call', MM_RECORDS);
      await insertCalls(client, 'pmem_call', PMEM_RECORDS);
    } finally {
      await client.end();
    }
  });

  it('list: newest first, aligned columns, the kernel function, short args, result, duration', () => {
    const r = mfsim(['incident', 'list']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, r.stdout);
    assert.equal(lines[0], `${'ID'.padEnd(U.length)}  ${'RUN'.padEnd(RUN.length)}  ${'FUNCTION'.padEnd(20)}  ${'ARGS'.padEnd(38)}  STATUS  RESULT  DURATION`);
    assert.equal(lines[1], `${U}  ${RUN}  madvise_inject_error  pid=100, start=0x7f0000005000, pages=1  done    0       191ms`);
    assert.equal(lines[2], `${OLDER}  ${OTHER_RUN}  hwpoison_inject       pfn=0x100000                            open    -       running`);
  });

  it('list --run RUN --json: one object per line, only that run', () => {
    const r = mfsim(['incident', 'list', '--run', RUN, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const objects = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(objects.length, 1);
    assert.equal(objects[0]?.id, U);
    assert.equal(objects[0]?.function, 'madvise_inject_error');
    assert.equal(objects[0]?.durationMs, 191);
    assert.equal(objects[0]?.result, 0);
    const none = mfsim(['incident', 'list', '--run', 'rnothing']);
    assert.equal(none.status, 0);
    assert.match(none.stdout, /^no incidents in run rnothing/);
  });

  it('show: header, the tree from the records of mm-process and pmem-driver, calls per service', () => {
    const r = mfsim(['incident', 'show', U]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(!r.stdout.includes('\u001b['), 'no colour when stdout is not a terminal');
    assert.deepEqual(r.stdout.split('\n'), [
      `incident ${U}`,
      `  run       ${RUN}`,
      '  root      madvise_inject_error(pid=100, start=0x7f0000005000, pages=1)  served by mm-process',
      '  status    done',
      '  started   2026-12-05T04:00:00.000Z',
      '  duration  191ms',
      '  result    0',
      '',
      ...TREE,
      '',
      'calls served (6 in all):',
      '  pmem-driver  2 calls',
      '  mm-process   4 calls',
      '',
    ]);
    // The same tree the embedded runner would print from the same records.
    const records = new Map([...MM_RECORDS, ...PMEM_RECORDS].map((x) => [x.id, x]));
    const trace = traceFromRecords(U, records);
    assert.ok(trace);
    assert.deepEqual(renderTrace(trace, { color: false, verbose: false }).map((l) => `  ${l}`), TREE);
  });

  it('with a trace backend known, list ends each line with the trace link and show ends with it', () => {
    const link = `http://127.0.0.1:9411/zipkin/traces/${U.replace(/-/g, '')}`;
    const env = { MFSIM_TRACE_URL: 'http://127.0.0.1:9411/zipkin/traces/{traceId}' };
    const list = mfsim(['incident', 'list', '--run', RUN], db.url, env);
    assert.equal(list.status, 0, list.stderr);
    const lines = list.stdout.trimEnd().split('\n');
    assert.match(lines[0] as string, /\s+DURATION\s+TRACE$/);
    assert.ok((lines[1] as string).startsWith(U) && new RegExp(`  191ms +${link}$`).test(lines[1] as string), lines[1]);
    const json = JSON.parse(mfsim(['incident', 'list', '--run', RUN, '--json'], db.url, env).stdout) as Record<string, unknown>;
    assert.deepEqual([json['traceId'], json['traceUrl']], [U.replace(/-/g, ''), link]);
    const show = mfsim(['incident', 'show', U], db.url, env);
    assert.equal(show.status, 0, show.stderr);
    assert.deepEqual(show.stdout.split('\n').slice(-3), ['', `trace ${link}`, '']);
    const bad = mfsim(['incident', 'show', U], db.url, { MFSIM_TRACE_URL: 'http://127.0.0.1:9411/zipkin/' });
    assert.equal(bad.status, 2);
    assert.equal(bad.stderr, 'mfsim incident show: MFSIM_TRACE_URL="http://127.0.0.1:9411/zipkin/": it has no {traceId} in it (e.g. http://127.0.0.1:9411/zipkin/traces/{traceId})\n');
  });

  it('show --verbose: the lookups too (get_dev_pagemap answered by pmem-driver)', () => {
    const r = mfsim(['incident', 'show', U, '--verbose']);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes('     ├─ get_dev_pagemap(pfn=0x129205) = pmem0\n'), r.stdout);
  });

  it('show --json: the incident and all six records, bigints as {"$n"}', () => {
    const r = mfsim(['incident', 'show', U, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const doc = JSON.parse(r.stdout) as { incident: { id: string }; records: { id: string; service: string; args: Record<string, unknown> }[] };
    assert.equal(doc.incident.id, U);
    assert.deepEqual(
      doc.records.map((x) => [x.id.slice(U.length), x.service]),
      [['', 'mm-process'], ['.1', 'mm-process'], ['.1.1', 'pmem-driver'], ['.1.2', 'mm-process'], ['.1.2.1', 'pmem-driver'], ['.1.2.2', 'mm-process']],
    );
    assert.deepEqual(doc.records[2]?.args, { pfn: { $n: PFN.toString() } });
  });

  it('show of an open incident without records: the header and a note, exit 0', () => {
    const r = mfsim(['incident', 'show', OLDER]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /status {4}open/);
    assert.match(r.stdout, /no call record of the root call/);
    assert.match(r.stdout, /calls served: none recorded/);
  });

  it('an unknown id: one line, exit 2', () => {
    const missing = 'ffffffff-ffff-4fff-8fff-ffffffffffff';
    const r = mfsim(['incident', 'show', missing]);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `mfsim incident show: no incident ${missing} (see mfsim incident list)\n`);
  });

  it('a malformed id: one line, exit 2', () => {
    const r = mfsim(['incident', 'show', 'b6f1a0c2']);
    assert.equal(r.status, 2);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^mfsim incident show: "b6f1a0c2" is not an incident id/);
  });

  it('PostgreSQL not reachable / database missing: one line naming the URL, exit 2, no stack trace', () => {
    const down = mfsim(['incident', 'list'], 'postgresql://postgres@127.0.0.1:1/mfsim');
    assert.equal(down.status, 2);
    assert.equal(down.stderr, 'mfsim incident list: cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:1/mfsim (ECONNREFUSED): start the stack with `npx mfsim stack up` (or set DATABASE_URL)\n');
    const url = new URL(db.url);
    url.pathname = `/${db.name}_missing`;
    const missing = mfsim(['incident', 'show', U], url.toString());
    assert.equal(missing.status, 2);
    assert.equal(missing.stderr, `mfsim incident show: the database of ${url.toString()} does not exist: start the stack with \`npx mfsim stack up\` (or set DATABASE_URL)\n`);
  });
});
