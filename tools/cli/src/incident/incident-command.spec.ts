/**
 * `mfsim incident`: argument parsing, the list columns, the show header and summary and the
 * database messages — the pure parts, no database.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { encodeJson, type CallRecord } from '@mfsim/kernel-model';

import { HELP, helpFor } from '../main-help';
import { runIncidentCommand } from './incident-command';
import {
  compareCallIds,
  databaseProblem,
  formatDuration,
  isIncidentId,
  listJson,
  parseIncidentArgs,
  redactUrl,
  renderHeader,
  renderList,
  renderServiceSummary,
  shortArgs,
  shortResult,
  showJson,
  type IncidentView,
} from './incident-format';

const ID = '3f2b9c1e-8d4a-4b7e-9a61-0c5d2e7f4a10';

function row(over: Partial<IncidentView> = {}): IncidentView {
  return {
    id: ID,
    run: 'r0123456789abcdef',
    op: 'mm.madviseInjectError',
    args: encodeJson({ pid: 100, start: 0x7f0000005000n, pages: 1n }),
    service: 'mm',
    status: 'done',
    result: encodeJson(0),
    startedAt: new Date('2026-12-05T04:00:00.000Z'),
    finishedAt: new Date('2026-12-05T04:00:00.191Z'),
    ...over,
  };
}

function rec(id: string, op: CallRecord['op']): CallRecord {
  return { id, op, args: {}, ctx: { current: null }, chain: id, caller: null, children: [], events: [], memos: [], status: 'done', result: 0 };
}

describe('parseIncidentArgs', () => {
  it('list: defaults, --run, --limit (also --flag=value), --json', () => {
    assert.deepEqual(parseIncidentArgs(['list']), { command: 'list', run: undefined, limit: 20, json: false });
    assert.deepEqual(parseIncidentArgs(['list', '--run', 'rabc', '--limit', '5', '--json']), { command: 'list', run: 'rabc', limit: 5, json: true });
    assert.deepEqual(parseIncidentArgs(['list', '--limit=7']), { command: 'list', run: undefined, limit: 7, json: false });
  });
  it('show: the id (lower-cased), --json, --verbose / -v', () => {
    assert.deepEqual(parseIncidentArgs(['show', ID.toUpperCase(), '-v']), { command: 'show', id: ID, json: false, verbose: true });
    assert.deepEqual(parseIncidentArgs(['show', '--json', ID]), { command: 'show', id: ID, json: true, verbose: false });
  });
  const bad: [string[], RegExp, boolean][] = [
    [[], /no subcommand/, true],
    [['frob'], /unknown subcommand frob/, true],
    [['list', '--limit', '0'], /--limit needs a whole number from 1 to 10000, got "0"/, true],
    [['list', '--limit', 'x'], /--limit needs/, true],
    [['list', '--limit'], /got nothing/, true],
    [['list', '--run'], /--run needs a run id/, true],
    [['list', '--run', 'x'.repeat(65)], /at most 64/, true],
    [['list', 'extra'], /takes no arguments/, true],
    [['list', '--verbose'], /unknown option --verbose for incident list/, true],
    [['show'], /needs an incident ID/, true],
    [['show', ID, ID], /takes one ID, got 2/, true],
    [['show', '--run', 'r', ID], /unknown option --run/, true],
    [['show', 'not-a-uuid'], /^"not-a-uuid" is not an incident id/, false],
    [['show', `${ID}.1`], /is not an incident id/, false],
  ];
  for (const [args, message, usage] of bad) {
    it(`refuses ${JSON.stringify(args)} in one line`, () => {
      const r = parseIncidentArgs(args);
      assert.ok('problem' in r, JSON.stringify(r));
      assert.match(r.problem, message);
      assert.doesNotMatch(r.problem, /\n/);
      assert.equal(r.usage, usage);
    });
  }
  it('isIncidentId: a uuid only', () => {
    assert.equal(isIncidentId(ID), true);
    assert.equal(isIncidentId('3f2b9c1e8d4a4b7e9a610c5d2e7f4a10'), false);
    assert.equal(isIncidentId(''), false);
  });
});

describe('list formatting', () => {
  it('short args: hex addresses, decimal counts, flags without names, a bdev by name, clipped', () => {
    assert.equal(shortArgs(row().args), 'pid=100, start=0x7f0000005000, pages=1');
    assert.equal(shortArgs(encodeJson({ pfn: 0x129205n, mfFlags: 0x23 })), 'pfn=0x129205, flags=0x23');
    assert.equal(shortArgs(encodeJson({ bdev: { disk: 'pmem0', partition: null }, holder: 'xfs0' })), 'bdev=pmem0, holder=xfs0');
    const long = shortArgs(encodeJson({ mds: ['a'.repeat(80)] }));
    assert.equal(long.length, 48);
    assert.ok(long.endsWith('…'));
    assert.equal(shortArgs('not json'), 'not json');
  });
  it('result: rc as the kernel prints it, panic and error messages, - while open', () => {
    assert.equal(shortResult({ status: 'done', result: encodeJson(0) }), '0');
    assert.equal(shortResult({ status: 'done', result: encodeJson('EHWPOISON') }), '-EHWPOISON');
    assert.equal(shortResult({ status: 'done', result: encodeJson({ mountError: null, dax: true }) }), '0 (dax)');
    assert.equal(shortResult({ status: 'done', result: encodeJson(null) }), 'NULL');
    assert.equal(shortResult({ status: 'panic', result: 'Memory failure: unrecoverable' }), 'panic: Memory failure: unrecoverable');
    assert.equal(shortResult({ status: 'error', result: 'no device pmem9' }), 'error: no device pmem9');
    assert.equal(shortResult({ status: 'open', result: null }), '-');
  });
  it('duration: ms, seconds, minutes; running while open', () => {
    const t = new Date('2026-12-05T04:00:00.000Z');
    const at = (ms: number) => new Date(t.getTime() + ms);
    assert.equal(formatDuration(t, at(191)), '191ms');
    assert.equal(formatDuration(t, at(2400)), '2.40s');
    assert.equal(formatDuration(t, at(185_000)), '3m05s');
    assert.equal(formatDuration(t, null), 'running');
  });
  it('columns line up under a header, the kernel function named', () => {
    const lines = renderList([row(), row({ id: '00000000-0000-4000-8000-000000000000', op: 'mm.userFault', args: encodeJson({ pid: 102, addr: 0x7f20001ff000n }), status: 'open', result: null, finishedAt: null })]);
    assert.equal(lines.length, 3);
    assert.match(lines[0] as string, /^ID\s+RUN\s+FUNCTION\s+ARGS\s+STATUS\s+RESULT\s+DURATION$/);
    assert.match(lines[1] as string, new RegExp(`^${ID}  r0123456789abcdef  madvise_inject_error  pid=100, start=0x7f0000005000, pages=1  done    0       191ms$`));
    assert.match(lines[2] as string, /do_user_addr_fault\s+pid=102, addr=0x7f20001ff000\s+open\s+-\s+running$/);
    const col = (l: string) => l.indexOf('STATUS') >= 0 ? l.indexOf('STATUS') : l.search(/ (done|open) /) + 1;
    assert.equal(col(lines[0] as string), col(lines[1] as string));
    assert.equal(col(lines[1] as string), col(lines[2] as string));
  });
  it('--json: one object, stored values kept, durationMs', () => {
    const j = listJson(row());
    assert.deepEqual(j, {
      id: ID,
      run: 'r0123456789abcdef',
      op: 'mm.madviseInjectError',
      function: 'madvise_inject_error',
      args: { pid: 100, start: { $n: String(0x7f0000005000n) }, pages: { $n: '1' } },
      service: 'mm-process',
      status: 'done',
      result: 0,
      startedAt: '2026-12-05T04:00:00.000Z',
      finishedAt: '2026-12-05T04:00:00.191Z',
      durationMs: 191,
      traceId: ID.replace(/-/g, ''),
    });
    assert.equal(listJson(row({ status: 'panic', result: 'boom' })).result, 'boom');
    // With a trace backend known, the link too.
    assert.equal(listJson(row(), (id) => `http://z/traces/${id}`).traceUrl, `http://z/traces/${ID}`);
  });
  it('with a trace backend known, each line ends with the trace link', () => {
    const lines = renderList([row()], (id) => `http://127.0.0.1:9411/zipkin/traces/${id.replace(/-/g, '')}`);
    assert.match(lines[0] as string, /\s+DURATION\s+TRACE$/);
    assert.match(lines[1] as string, new RegExp(`191ms\\s+http://127\\.0\\.0\\.1:9411/zipkin/traces/${ID.replace(/-/g, '')}$`));
  });
});

describe('show formatting', () => {
  it('header: id, run, root call, status, start, duration, result', () => {
    assert.deepEqual(renderHeader(row()), [
      `incident ${ID}`,
      '  run       r0123456789abcdef',
      '  root      madvise_inject_error(pid=100, start=0x7f0000005000, pages=1)  served by mm-process',
      '  status    done',
      '  started   2026-12-05T04:00:00.000Z',
      '  duration  191ms',
      '  result    0',
    ]);
  });
  it('summary: calls per service in stack order', () => {
    const records = [rec(ID, 'mm.madviseInjectError'), rec(`${ID}.1`, 'mm.memoryFailure'), rec(`${ID}.1.1`, 'pmem.getDevPagemap'), rec(`${ID}.1.2.1`, 'xfs.xfsDaxNotifyFailure')];
    assert.deepEqual(renderServiceSummary(records), ['calls served (4 in all):', '  pmem-driver  1 call', '  xfs-fs       1 call', '  mm-process   2 calls']);
    assert.deepEqual(renderServiceSummary([]), ['calls served: none recorded']);
  });
  it('call ids sort in tree order; --json keeps bigints as {"$n"}', () => {
    const ids = [`${ID}.10`, `${ID}.2.1`, ID, `${ID}.2`];
    assert.deepEqual(ids.sort(compareCallIds), [ID, `${ID}.2`, `${ID}.2.1`, `${ID}.10`]);
    const out = JSON.parse(showJson(row(), [rec(`${ID}.1`, 'mm.memoryFailure'), { ...rec(ID, 'mm.madviseInjectError'), args: { pfn: 5n } }])) as { records: { id: string; service: string; args: unknown }[] };
    assert.deepEqual(out.records.map((r) => [r.id, r.service]), [[ID, 'mm-process'], [`${ID}.1`, 'mm-process']]);
    assert.deepEqual(out.records[0]?.args, { pfn: { $n: '5' } });
  });
});

describe('database problems', () => {
  const url = 'postgresql://postgres:secret@127.0.0.1:5432/mfsim';
  it('redacts a password', () => assert.equal(redactUrl(url), 'postgresql://postgres:***@127.0.0.1:5432/mfsim'));
  it('unreachable, missing, not migrated: exit 2 naming the URL and npx mfsim stack up', () => {
    const cases = [
      Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }),
      Object.assign(new AggregateError([Object.assign(new Error('x'), { code: 'ECONNREFUSED' })], ''), {}),
      new Error('Connection terminated due to connection timeout'),
      Object.assign(new Error('database "mfsim" does not exist'), { code: '3D000' }),
      Object.assign(new Error('relation "incident" does not exist'), { code: '42P01' }),
    ];
    for (const err of cases) {
      const p = databaseProblem(err, url);
      assert.equal(p.exitCode, 2, err.message);
      assert.match(p.message, /postgresql:\/\/postgres:\*\*\*@127\.0\.0\.1:5432\/mfsim/);
      assert.match(p.message, /npx mfsim stack up/);
      assert.doesNotMatch(p.message, /secret|\n/);
    }
  });
  it('anything else: exit 1, one line', () => {
    const p = databaseProblem(Object.assign(new Error('deadlock detected\nDETAIL: …'), { code: '40P01' }), url);
    assert.deepEqual(p, { message: 'PostgreSQL at postgresql://postgres:***@127.0.0.1:5432/mfsim: deadlock detected', exitCode: 1 });
  });
});

describe('runIncidentCommand without a database', () => {
  const run = async (args: string[], env: NodeJS.ProcessEnv = {}) => {
    let out = '';
    let err = '';
    const code = await runIncidentCommand(args, { env, out: (t) => void (out += t), err: (t) => void (err += t) });
    return { code, out, err };
  };
  it('a malformed id: one line, exit 2, no connection made', async () => {
    const r = await run(['show', 'abc'], { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/none' });
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.equal(r.err.trimEnd().split('\n').length, 1);
    assert.match(r.err, /^mfsim incident show: "abc" is not an incident id/);
  });
  it('a DATABASE_URL that is not a postgresql URL: exit 2', async () => {
    const r = await run(['list'], { DATABASE_URL: 'mysql://x/y' });
    assert.equal(r.code, 2);
    assert.match(r.err, /^mfsim incident list: DATABASE_URL must be a postgresql:\/\/ URL/);
  });
  it('nothing listening: one line naming the URL, exit 2', async () => {
    const r = await run(['list'], { DATABASE_URL: 'postgresql://postgres@127.0.0.1:1/mfsim' });
    assert.equal(r.code, 2);
    assert.equal(r.err, 'mfsim incident list: cannot reach PostgreSQL at postgresql://postgres@127.0.0.1:1/mfsim (ECONNREFUSED): start the stack with `npx mfsim stack up` (or set DATABASE_URL)\n');
  });
});

describe('help', () => {
  for (const path of ['incident', 'incident list', 'incident show']) {
    it(`mfsim ${path} --help: usage, exit status, example`, () => {
      const text = helpFor([...path.split(' '), '--help']);
      assert.equal(text, HELP[path]);
      assert.match(text as string, /usage:/);
      assert.match(text as string, /exit status:/);
      assert.match(text as string, new RegExp(`example:\\n  mfsim ${path.split(' ')[0]}`));
    });
  }
  it('show ID --help is the help of show', () => assert.equal(helpFor(['incident', 'show', ID, '--help']), HELP['incident show']));
  it('mfsim --help names the command', () => assert.match(HELP[''] as string, /incident\s+the incidents/));
});
