/**
 * `mfsim ui` without a network: the API's answers to bad input (malformed filter → 400, unknown
 * incident → 404, each a one-line JSON error), the query parser, and the incident view built from
 * embedded runs of the shipped examples (signals and why, rmap owners, shutdowns, dm path, facets,
 * filtering and paging).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import type { CallRecord } from '@mfsim/kernel-model';
import { runScenarioDistributed, SimCluster } from '@mfsim/scenario';

import { faultSpans, parseUiArgs, traceTemplate } from './ui-command';
import { flatten, hopsFromRecords, parseListQuery, traceUrl, type IncidentDetail, type ListItem, type RecordTimes } from './ui-model';
import { answerApi } from './ui-server';
import { EmbeddedSource, loadScenario, type ListPage } from './ui-source';

const REPO = path.resolve(__dirname, '..', '..', '..', '..');
const example = (name: string): ReturnType<typeof loadScenario> => {
  const file = path.join(REPO, 'scenarios', 'examples', name);
  return loadScenario(file, readFileSync(file, 'utf8'));
};

function embedded(...names: string[]): EmbeddedSource {
  const source = new EmbeddedSource();
  let t = 1_000_000;
  source.run(
    names.map((n) => {
      const s = example(n);
      if ('problem' in s) throw new Error(s.problem);
      return s;
    }),
    () => (t += 1000),
  );
  return source;
}

const OPTS = (source: EmbeddedSource) => ({ source, faults: [], historyFile: null });

async function get(source: EmbeddedSource, url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const u = new URL(url, 'http://x');
  const a = await answerApi(u.pathname, u.searchParams, OPTS(source));
  return { status: a.status, body: a.body as Record<string, unknown> };
}

function oneLineError(body: Record<string, unknown>): string {
  assert.deepEqual(Object.keys(body), ['error']);
  const e = body.error as string;
  assert.equal(typeof e, 'string');
  assert.ok(!e.includes('\n'), `one line: ${e}`);
  assert.ok(!/\bat .*\.js:\d+/.test(e), `no stack trace: ${e}`);
  return e;
}

describe('the API refuses bad input with a one-line 4xx', () => {
  const source = embedded('03-reflinked-block-two-owners.yaml');

  it('an unknown incident id is a 404', async () => {
    const r = await get(source, '/api/incidents/3f2b9c1e-8d4a-4b7e-9a61-0c5d2e7f4a10');
    assert.equal(r.status, 404);
    assert.match(oneLineError(r.body), /^no incident 3f2b9c1e-8d4a-4b7e-9a61-0c5d2e7f4a10$/);
  });

  it('an id that is not a uuid is a 400', async () => {
    const r = await get(source, '/api/incidents/12345');
    assert.equal(r.status, 400);
    assert.match(oneLineError(r.body), /"12345" is not an incident id/);
  });

  for (const [query, pattern] of [
    ['pfn=zz', /^pfn: "zz" is not a page frame number/],
    ['pfn=0x', /^pfn: "0x"/],
    ['pfn=0x10000000000000000', /^pfn:/],
    ['pid=abc', /^pid: "abc" is not a process id/],
    ['pid=-1', /^pid:/],
    ['device=pm%20em', /^device: "pm em" is not a device name/],
    ['status=finished', /^status: "finished" must be one of open, done, panic, error$/],
    ['limit=0', /^limit: needs a whole number from 1 to 500/],
    ['limit=100000', /^limit:/],
    ['offset=x', /^offset:/],
    ['color=red', /^unknown parameter "color"/],
  ] as const) {
    it(`?${query} is a 400`, async () => {
      const r = await get(source, `/api/incidents?${query}`);
      assert.equal(r.status, 400);
      assert.match(oneLineError(r.body), pattern);
    });
  }

  it('an unknown API path is a 404', async () => {
    const r = await get(source, '/api/nothing');
    assert.equal(r.status, 404);
    oneLineError(r.body);
  });
});

describe('parseListQuery', () => {
  it('reads a pfn in hex or decimal as the kernel prints it', () => {
    assert.deepEqual(parseListQuery(new URLSearchParams('pfn=0x123450')), { offset: 0, limit: 50, pfn: '0x123450' });
    assert.deepEqual(parseListQuery(new URLSearchParams('pfn=1193040')), { offset: 0, limit: 50, pfn: '0x123450' });
    assert.deepEqual(parseListQuery(new URLSearchParams('pfn=0X12345A')), { offset: 0, limit: 50, pfn: '0x12345a' });
  });

  it('reads every filter and the page; empty values are no filter', () => {
    assert.deepEqual(parseListQuery(new URLSearchParams('device=pmem0&pid=201&status=done&run=r1&offset=50&limit=10&pfn=')), {
      device: 'pmem0',
      pid: 201,
      status: 'done',
      run: 'r1',
      offset: 50,
      limit: 10,
    });
  });
});

describe('an incident as the page shows it (embedded runs)', () => {
  it('03: the reflinked block: two rmap owners, one forced BUS_MCEERR_AR to the injector, nothing to the late-kill reader', async () => {
    const source = embedded('03-reflinked-block-two-owners.yaml');
    const list = (await get(source, '/api/incidents')).body as unknown as ListPage;
    assert.equal(list.total, 1);
    const item = list.items[0] as ListItem;
    assert.equal(item.fn, 'madvise_inject_error');
    assert.deepEqual(item.facets.pfns, ['0x123450']);
    assert.ok(item.facets.devices.includes('pmem0') && item.facets.devices.includes('xfs0'), item.facets.devices.join(','));
    const d = (await get(source, `/api/incidents/${item.id}`)).body as unknown as IncidentDetail;
    assert.equal(d.timing, 'order');
    assert.equal(d.traceUrl, null);
    assert.deepEqual(
      d.owners.map((o) => `${o.mapping}@${o.pgoff}`),
      ['xfs0:131@0', 'xfs0:132@0'],
    );
    assert.equal(d.signals.length, 1);
    const [s] = d.signals;
    assert.deepEqual({ pid: s?.pid, code: s?.code, kill: s?.kill, forced: s?.forced, addr: s?.addr }, { pid: 201, code: 'BUS_MCEERR_AR', kill: 'late', forced: true, addr: '0x7f2000000000' });
    assert.deepEqual(d.shutdowns, []);
    assert.deepEqual(d.dmPath, []);
    const services = new Set<string>();
    const walk = (h: NonNullable<IncidentDetail['tree']>): void => {
      services.add(h.service);
      for (const i of h.items) if (i.kind === 'hop') walk(i);
    };
    walk(d.tree as NonNullable<IncidentDetail['tree']>);
    assert.deepEqual([...services].sort(), ['dax-core', 'mm-process', 'pmem-driver', 'xfs-fs']);
  });

  it('07: the unbind: BUS_MCEERR_AO for device removal, then a BUS_ADRERR fault; a forced shutdown', async () => {
    const source = embedded('07-unbind-pre-remove.yaml');
    const list = (await get(source, '/api/incidents')).body as unknown as ListPage;
    assert.equal(list.total, 2);
    const [access, unbind] = list.items as ListItem[];
    assert.equal(unbind?.fn, 'nd_pmem_remove');
    assert.equal(access?.fn, 'user_access');
    const d = (await get(source, `/api/incidents/${unbind?.id}`)).body as unknown as IncidentDetail;
    assert.deepEqual(d.signals.map((s) => [s.pid, s.code, s.kill]), [[301, 'BUS_MCEERR_AO', 'pre-remove']]);
    assert.match(d.signals[0]?.why ?? '', /MF_MEM_PRE_REMOVE/);
    assert.equal(d.shutdowns.length, 1);
    assert.match(d.shutdowns[0]?.text ?? '', /XFS \(xfs0\).*Shutting down filesystem/);
    const a = (await get(source, `/api/incidents/${access?.id}`)).body as unknown as IncidentDetail;
    assert.deepEqual(a.signals.map((s) => [s.pid, s.code, s.kill]), [[302, 'BUS_ADRERR', 'fault']]);
  });

  it('09: the dm path of the holder proposal', async () => {
    const source = embedded('09-dm-linear-proposal-forwards.yaml');
    const list = (await get(source, '/api/incidents')).body as unknown as ListPage;
    const d = (await get(source, `/api/incidents/${list.items[0]?.id}`)).body as unknown as IncidentDetail;
    assert.ok(d.dmPath.includes('dm_dax_notify_failure'), d.dmPath.join(' → '));
  });

  it('filters by device, pfn and pid on the server and pages newest first', async () => {
    const source = embedded('03-reflinked-block-two-owners.yaml', '07-unbind-pre-remove.yaml', '01-inj-poisons-own-page.yaml');
    const all = (await get(source, '/api/incidents?limit=2')).body as unknown as ListPage;
    assert.equal(all.total, 4);
    assert.equal(all.items.length, 2);
    assert.ok((all.items[0]?.startedMs ?? 0) > (all.items[1]?.startedMs ?? 0), 'newest first');
    const rest = (await get(source, '/api/incidents?limit=2&offset=2')).body as unknown as ListPage;
    assert.equal(rest.items.length, 2);
    assert.equal(new Set([...all.items, ...rest.items].map((i) => i.id)).size, 4);
    const byPid = (await get(source, '/api/incidents?pid=302')).body as unknown as ListPage;
    assert.deepEqual(byPid.items.map((i) => i.fn), ['user_access']);
    const byPfn = (await get(source, '/api/incidents?pfn=0x123450')).body as unknown as ListPage;
    assert.ok(byPfn.items.every((i) => i.facets.pfns.includes('0x123450')) && byPfn.total >= 1);
    const none = (await get(source, '/api/incidents?device=nvme9')).body as unknown as ListPage;
    assert.equal(none.total, 0);
  });
});

describe('trace links, arguments and histories', () => {
  it('the trace id is the incident uuid without dashes', () => {
    assert.equal(traceUrl('http://127.0.0.1:9411/zipkin/traces/{traceId}', '3F2B9C1E-8d4a-4b7e-9a61-0c5d2e7f4a10'), 'http://127.0.0.1:9411/zipkin/traces/3f2b9c1e8d4a4b7e9a610c5d2e7f4a10');
    assert.equal(traceUrl(null, '3f2b9c1e-8d4a-4b7e-9a61-0c5d2e7f4a10'), null);
  });

  it('takes its trace template where the CLI does: MFSIM_TRACE_URL, else the Zipkin of the stack, else none', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'mfsim-ui-stack-'));
    try {
      assert.equal(traceTemplate({ MFSIM_STACK_DIR: dir }), null);
      writeFileSync(path.join(dir, 'state.json'), JSON.stringify({ zipkin: { traceUrl: 'http://127.0.0.1:19411/zipkin/traces/{traceId}' } }));
      assert.equal(traceTemplate({ MFSIM_STACK_DIR: dir }), 'http://127.0.0.1:19411/zipkin/traces/{traceId}');
      assert.equal(traceTemplate({ MFSIM_STACK_DIR: dir, MFSIM_TRACE_URL: 'http://j/{traceId}' }), 'http://j/{traceId}');
      assert.throws(() => traceTemplate({ MFSIM_STACK_DIR: dir, MFSIM_TRACE_URL: 'http://j/' }), /MFSIM_TRACE_URL.*\{traceId\}/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses the command line and refuses a bad port', () => {
    assert.deepEqual(parseUiArgs(['--port', '0', '--scenario', 'a.yaml', '--scenario=b', '--history', 'h.jsonl']), { port: 0, host: '127.0.0.1', scenarios: ['a.yaml', 'b'], history: 'h.jsonl' });
    assert.deepEqual(parseUiArgs([]), { port: 7400, host: '127.0.0.1', scenarios: [], history: null });
    assert.match((parseUiArgs(['--port', 'x']) as { problem: string }).problem, /--port needs a port number/);
    assert.match((parseUiArgs(['--port', '70000']) as { problem: string }).problem, /--port/);
    assert.match((parseUiArgs(['--verbose']) as { problem: string }).problem, /unknown option --verbose/);
  });

  it('puts a chaos history\'s faults on absolute times', () => {
    const spans = faultSpans(readFileSync(path.join(REPO, 'scenarios', 'chaos', 'histories', 'clean.jsonl'), 'utf8'));
    assert.ok(Array.isArray(spans));
    const t0 = Date.parse('2026-12-05T05:00:00.000Z');
    assert.deepEqual(spans[0], { kind: 'kill', target: 'xfs-fs', startMs: t0 + 120, effectMs: t0 + 155, endMs: t0 + 2120, seen: 'xfs-fs /health refused; consumer group mfsim-xfs-fs rebalanced' });
    assert.match((faultSpans('{"type":"run"}\n') as { problem: string }).problem, /line 1/);
  });
});

describe('mfsim ui: bad usage and bad files are one line and exit 2', () => {
  const MFSIM = path.join(REPO, 'tools', 'cli', 'bin', 'mfsim.js');
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stderr: string; stdout: string } =>
    spawnSync(process.execPath, [MFSIM, 'ui', ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000, env: { ...process.env, ...env } });

  for (const [args, env, pattern] of [
    [['--port', 'x'], {}, /^mfsim ui: --port needs a port number from 0 to 65535, got "x"$/],
    [['--colour'], {}, /^mfsim ui: unknown option --colour$/],
    [['--scenario', 'no/such/file.yaml'], {}, /^mfsim ui: --scenario: no\/such\/file.yaml: no such file or folder$/],
    [['--scenario', 'scenarios/invalid/access-outside-mappings.yaml'], {}, /^mfsim ui: --scenario: .*access-outside-mappings.yaml: injections\[0\]\.access\.addr: /],
    [['--scenario', 'scenarios/examples', '--history', 'README.md'], {}, /^mfsim ui: --history: README.md: line 1: not JSON/],
    [[], { DATABASE_URL: 'http://127.0.0.1/x' }, /^mfsim ui: DATABASE_URL must be a postgresql:\/\/ URL/],
  ] as const) {
    it(`mfsim ui ${args.join(' ')}${Object.keys(env).length ? ` (${JSON.stringify(env)})` : ''}`, () => {
      const r = run([...args], env);
      assert.equal(r.status, 2, r.stderr);
      assert.equal(r.stdout, '');
      const first = r.stderr.split('\n')[0] ?? '';
      assert.match(first, pattern);
      assert.ok(!r.stderr.includes('    at '), `no stack trace: ${r.stderr}`);
    });
  }

  it('mfsim ui --help names the API and the options', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^usage: mfsim ui \[--port N\]/);
    assert.match(r.stdout, /MFSIM_TRACE_URL/);
  });
});

describe('hop times from the services\' call records', () => {
  it('a chain root takes its row\'s times, a call inside a chain its chain\'s, the mm root the incident\'s start; a missing record is unrecorded', async () => {
    const s = example('03-reflinked-block-two-owners.yaml');
    if ('problem' in s) throw new Error(s.problem);
    const cluster = new SimCluster();
    const run = await runScenarioDistributed(s.scenario, cluster);
    const id = run.injections[0]?.incident.incident as string;
    const records = [...(await cluster.records(id)).values()];
    const chains = [...new Set(records.map((r) => r.chain))];
    const times = new Map<string, RecordTimes>();
    chains.forEach((chain, i) => times.set(chain, { createdMs: 10_000 + i * 10, updatedMs: 10_000 + i * 10 + 5 }));
    for (const r of records) if (r.chain !== r.id) times.set(r.id, times.get(r.chain) as RecordTimes);
    const tree = hopsFromRecords(id, records, times, 9_000);
    const hops = flatten(tree);
    const root = hops[0];
    assert.equal(root?.fn, 'madvise_inject_error');
    assert.equal(root?.startMs, 9_000, 'mm-process copies its records when the chain ends: the root starts with the incident');
    assert.equal(root?.endMs, (times.get(id) as RecordTimes).updatedMs);
    const pmem = hops.find((h) => h.fn === 'pmem_pagemap_memory_failure');
    assert.ok(pmem?.chainRoot);
    assert.deepEqual([pmem?.startMs, pmem?.endMs], [(times.get(pmem?.id as string) as RecordTimes).createdMs, (times.get(pmem?.id as string) as RecordTimes).updatedMs]);
    const inner = hops.find((h) => h.fn === 'memory_failure');
    assert.equal(inner?.chainRoot, false);
    assert.deepEqual([inner?.startMs, inner?.endMs], [root?.startMs, root?.endMs], 'a call inside the root chain shares its bar');
    // Drop the dax-core record: the hop is still drawn, as unrecorded and without a time.
    const withoutDax = records.filter((r: CallRecord) => !r.op.startsWith('dax.'));
    const partial = flatten(hopsFromRecords(id, withoutDax, times, 9_000)).find((h) => h.fn === 'dax_holder_notify_failure');
    assert.deepEqual([partial?.status, partial?.startMs, partial?.items.length], ['unrecorded', null, 0]);
  });
});
