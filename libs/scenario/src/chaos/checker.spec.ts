/**
 * The chaos history format and its checker: a clean history passes, and each anomaly is reported
 * by its name. Histories are built from an embedded run of example 03.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { outcomeToJson } from '../outcome';
import { parseScenario } from '../parse-scenario';
import { runScenario } from '../run-scenario';
import { checkHistory, HistoryCheckError, type CheckResult } from './checker';
import { formatHistoryProblem, historyLine, parseHistory, type History } from './history';

const REPO = join(__dirname, '../../../..');
const FILE = 'scenarios/examples/03-reflinked-block-two-owners.yaml';
const TEXT = readFileSync(join(REPO, FILE), 'utf8');
const INC = '11111111-1111-4111-8111-111111111111';
const INC2 = '22222222-2222-4222-8222-222222222222';

type Line = Record<string, unknown>;

function cleanState(): Record<string, unknown> {
  const parsed = parseScenario(TEXT, FILE);
  assert.ok(parsed.ok);
  const run = runScenario(parsed.scenario, undefined, { trace: 'none' });
  const state = outcomeToJson(run.outcome);
  state.incidents = [{ id: 'i1', incident: INC, traceId: '0'.repeat(32), status: 'complete' }];
  return state;
}

/** A clean run: one fault that took effect, the injection acknowledged, the lag drained. */
function cleanLines(): Line[] {
  return [
    { type: 'run', scenario: TEXT, seed: 42, startedAt: '2026-12-05T05:00:00.000Z' },
    { type: 'lag', time: 0, group: 'mm', lag: 0 },
    { type: 'fault', phase: 'start', time: 10, fault: { kind: 'kill', target: 'xfs-fs' } },
    { type: 'op', phase: 'invoke', time: 20, injection: 'i1', incident: INC },
    { type: 'fault', phase: 'effect', time: 25, fault: { kind: 'kill', target: 'xfs-fs' }, seen: 'xfs-fs left the group' },
    { type: 'lag', time: 30, group: 'mm', lag: 3 },
    { type: 'fault', phase: 'end', time: 100, fault: { kind: 'kill', target: 'xfs-fs' } },
    { type: 'op', phase: 'ok', time: 150, injection: 'i1', incident: INC, rc: 0 },
    { type: 'lag', time: 180, group: 'mm', lag: 0 },
    { type: 'final', state: cleanState(), records: [{ incident: INC, injection: 'i1', signals: 1, unmaps: [{ pid: 201, addr: '0x7f2000000000' }] }] },
  ];
}

function text(lines: Line[]): string {
  return `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`;
}

function parse(lines: Line[]): History {
  const r = parseHistory(text(lines));
  if (!r.ok) assert.fail(formatHistoryProblem(r.problem));
  return r.history;
}

function check(lines: Line[]): CheckResult {
  return checkHistory(parse(lines));
}

function names(r: CheckResult): string[] {
  return [...new Set(r.anomalies.map((a) => a.name))].sort();
}

function finalOf(lines: Line[]): { state: Record<string, unknown>; records?: unknown[] } {
  return lines[lines.length - 1] as unknown as { state: Record<string, unknown>; records?: unknown[] };
}

describe('checkHistory', () => {
  it('passes a clean history and measures the recovery time', () => {
    const r = check(cleanLines());
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.ok, true);
    // The fault ended at 100; the op completed at 150 but the lag reached 0 only at 180.
    assert.deepEqual(r.recovery, [{ fault: { kind: 'kill', target: 'xfs-fs' }, start: 10, end: 100, ms: 80 }]);
    assert.equal(r.stats.invoked, 1);
    assert.equal(r.stats.ok, 1);
    assert.equal(r.stats.modelRuns, 1);
  });

  it('reports a lost incident: acknowledged but missing from the final records', () => {
    const lines = cleanLines();
    finalOf(lines).records = [];
    const r = check(lines);
    assert.deepEqual(names(r), ['lost']);
    assert.equal(r.anomalies[0]?.incident, INC);
    assert.equal(r.ok, false);
  });

  it('reports a lost incident from the state incidents when there are no records', () => {
    const lines = cleanLines();
    delete finalOf(lines).records;
    finalOf(lines).state.incidents = [];
    assert.deepEqual(names(check(lines)), ['lost']);
  });

  it('reports a duplicate signal: a delivery replayed past its dedup record', () => {
    const lines = cleanLines();
    const signals = finalOf(lines).state.signals as unknown[];
    signals.push({ ...(signals[0] as object) });
    const r = check(lines);
    assert.deepEqual(names(r), ['duplicate-signal']);
    assert.match(r.anomalies[0]?.detail ?? '', /SIGBUS BUS_MCEERR_AR to pid 201 at 0x7f2000000000 sent 2 times, the model sends it once/);
  });

  it('compares the signals the record of each incident sent with the model, incident by incident', () => {
    const twice = cleanLines();
    finalOf(twice).records = [{ incident: INC, injection: 'i1', signals: 2, unmaps: [] }];
    const r = check(twice);
    assert.deepEqual(names(r), ['duplicate-signal']);
    assert.equal(r.anomalies[0]?.incident, INC);
    assert.equal(r.anomalies[0]?.field, 'records.signals');
    const none = cleanLines();
    finalOf(none).records = [{ incident: INC, injection: 'i1', signals: 0, unmaps: [] }];
    const w = check(none);
    assert.deepEqual(names(w), ['wrong-outcome']);
    assert.equal(w.anomalies[0]?.field, 'records.signals');
  });

  it('reports a duplicate unmap the records show', () => {
    const lines = cleanLines();
    finalOf(lines).records = [{ incident: INC, injection: 'i1', signals: 1, unmaps: [{ pid: 201, addr: '0x7f2000000000' }, { pid: 201, addr: '0x7f2000000000' }] }];
    const r = check(lines);
    assert.deepEqual(names(r), ['duplicate-unmap']);
    assert.equal(r.anomalies[0]?.incident, INC);
  });

  it('reports a dropped message as a wrong outcome naming signals and pages', () => {
    const lines = cleanLines();
    const state = finalOf(lines).state;
    state.signals = [];
    state.actionResults = [];
    state.pages = (state.pages as { pfn: string }[]).map((p) => ({ pfn: p.pfn, hwpoison: false }));
    state.ptes = (state.ptes as object[]).map((p) => ({ ...p, present: true }));
    const r = check(lines);
    assert.deepEqual(names(r), ['wrong-outcome']);
    const fields = new Set(r.anomalies.map((a) => a.field));
    assert.ok(fields.has('signals'), [...fields].join());
    assert.ok(fields.has('pages'), [...fields].join());
    assert.ok(r.anomalies.some((a) => /was not sent/.test(a.detail)));
  });

  it('reports a wrong rc of an acknowledged operation', () => {
    const lines = cleanLines();
    (lines[7] as Line).rc = 'EIO';
    const r = check(lines);
    assert.deepEqual(names(r), ['wrong-outcome']);
    assert.equal(r.anomalies[0]?.field, 'rc');
    assert.equal(r.anomalies[0]?.injection, 'i1');
  });

  it('reports an unfinished incident (and accepts its effects either way)', () => {
    const lines = cleanLines().filter((l) => !(l.type === 'op' && l.phase === 'ok'));
    delete finalOf(lines).records;
    const r = check(lines);
    assert.deepEqual(names(r), ['unfinished']);
    // Never completed: the recovery never came.
    assert.equal(r.recovery[0]?.ms, null);
  });

  it('measures recovery against the lag before the fault, not against operations invoked after its end', () => {
    const lines = cleanLines();
    // Lag 2 before the fault (a workload in flight) is the level to come back to; an operation
    // invoked after the fault ended, still open later, does not hold the recovery back.
    lines.splice(1, 1, { type: 'lag', time: 0, group: 'mm', lag: 2 });
    const i = lines.findIndex((l) => l.type === 'op' && l.phase === 'ok');
    lines.splice(i + 1, 0, { type: 'lag', time: 160, group: 'mm', lag: 2 }, { type: 'op', phase: 'invoke', time: 165, injection: 'i1', incident: INC2 });
    lines.splice(lines.length - 1, 0, { type: 'op', phase: 'info', time: 400, injection: 'i1', incident: INC2 });
    const r = check(lines);
    assert.equal(r.recovery[0]?.ms, 60);
  });

  it('reports lag that did not drain', () => {
    const lines = cleanLines();
    lines.splice(6, 0, { type: 'lag', time: 50, group: 'xfs', lag: 7 });
    const r = check(lines);
    assert.deepEqual(names(r), ['lag-not-drained']);
    assert.equal(r.anomalies[0]?.group, 'xfs');
    assert.equal(r.recovery[0]?.ms, null);
  });

  it('reports a fault without its effect line', () => {
    const lines = cleanLines().filter((l) => !(l.type === 'fault' && l.phase === 'effect'));
    const r = check(lines);
    assert.deepEqual(names(r), ['fault-not-effective']);
    assert.deepEqual(r.anomalies[0]?.fault, { kind: 'kill', target: 'xfs-fs' });
  });

  it('accepts an indeterminate injection that did happen', () => {
    const lines = cleanLines();
    lines[7] = { type: 'op', phase: 'info', time: 150, injection: 'i1', incident: INC, outcome: { error: 'timeout' } };
    const r = check(lines);
    assert.deepEqual(r.anomalies, []);
    assert.deepEqual(r.stats.assumedHappened, [INC]);
  });

  it('accepts an indeterminate injection that did not happen', () => {
    const lines = cleanLines();
    lines[7] = { type: 'op', phase: 'info', time: 150, injection: 'i1', incident: INC };
    const state = finalOf(lines).state;
    const parsed = parseScenario(TEXT, FILE);
    assert.ok(parsed.ok);
    const none = outcomeToJson(runScenario({ ...parsed.scenario, injections: [] }, undefined, { trace: 'none' }).outcome);
    for (const k of ['signals', 'actionResults', 'pages', 'ptes']) state[k] = none[k];
    delete finalOf(lines).records;
    const r = check(lines);
    assert.deepEqual(r.anomalies, []);
    assert.deepEqual(r.stats.assumedHappened, []);
    assert.equal(r.stats.modelRuns, 2);
  });

  it('treats a failed injection as not having happened', () => {
    const lines = cleanLines();
    lines[7] = { type: 'op', phase: 'fail', time: 150, injection: 'i1', incident: INC };
    // The final state still has i1's effects: the model, without i1, disagrees.
    assert.deepEqual(names(check(lines)), ['wrong-outcome']);
  });

  it('refuses to explore too many indeterminate operations', () => {
    const lines: Line[] = [cleanLines()[0] as Line];
    for (let i = 0; i < 3; i++) {
      lines.push({ type: 'op', phase: 'invoke', time: i, injection: 'i1', incident: `inc-${i}` });
      lines.push({ type: 'op', phase: 'info', time: i, injection: 'i1', incident: `inc-${i}` });
    }
    lines.push(cleanLines()[9] as Line);
    const r = checkHistory(parse(lines), { maxIndeterminate: 2 });
    assert.deepEqual(names(r), ['too-many-indeterminate']);
  });

  it('throws HistoryCheckError for an injection the scenario does not have', () => {
    const lines = cleanLines();
    (lines[3] as Line).injection = 'nope';
    (lines[7] as Line).injection = 'nope';
    assert.throws(() => check(lines), (e: unknown) => e instanceof HistoryCheckError && e.line === 4 && e.field === 'injection');
  });

  it('needs the scenario text when the run line names a file', () => {
    const lines = cleanLines();
    (lines[0] as Line).scenario = FILE;
    assert.throws(() => check(lines), HistoryCheckError);
    assert.equal(checkHistory(parse(lines), { scenarioText: TEXT }).ok, true);
  });
});

/**
 * Races: an unbind of pmem0 and corruptPfn injections on its pages. Before the unbind a poisoned
 * file page is handled (rc 0, pid 301 signalled); after it the device is dead (rc ENXIO).
 */
const RACE = `name: race
pmem:
  - { name: pmem0, physAddr: "0x100000000", size: 16GiB, dataOffset: "0x10200000" }
  - { name: pmem1, physAddr: "0x500000000", size: 16GiB, dataOffset: "0x10200000" }
filesystems:
  - name: xfs0
    device: pmem0
    blockSize: 4096
    agBlocks: 262144
    files:
      - { path: /F, ino: 131, extents: [{ offset: 0, block: 78416, count: 16 }] }
processes:
  - pid: 301
    comm: p1
    mceKill: early
    mmaps:
      - { fs: xfs0, path: /F, start: "0x7f0000000000", pgoff: 0, pages: 16, faulted: [0, 1, 2] }
injections:
  - { id: u, unbind: { device: pmem0, pid: 1 } }
  - { id: p1, corruptPfn: { pfn: "0x123450" } }
  - { id: p2, corruptPfn: { pfn: "0x123451" } }
  - { id: p5, corruptPfn: { pfn: "0x123455" } }
  - { id: q, corruptPfn: { pfn: "0x523450" } }
`;

interface RaceOp {
  readonly id: string;
  readonly invoke: number;
  readonly done: number;
}

/**
 * A history of `ops` (invoked and completed at the given times) whose services handled them in
 * `handled` order: each rc, the record signal counts and the final state are the model's for
 * that order.
 */
function raceHistory(ops: readonly RaceOp[], handled: readonly string[], ...inside: { readonly id: string; readonly boundary: number }[]): Line[] {
  const parsed = parseScenario(RACE, 'race.yaml');
  assert.ok(parsed.ok);
  const byId = new Map(parsed.scenario.injections.map((i) => [i.id, i] as const));
  // `inside`: the services handled that injection between two hops of the unbind u.
  const placements = inside.length > 0 ? new Map([[handled.indexOf('u'), inside.map((x) => ({ index: handled.indexOf(x.id), boundary: x.boundary }))]]) : undefined;
  const run = runScenario({ ...parsed.scenario, injections: handled.map((id) => byId.get(id) as (typeof parsed.scenario.injections)[number]) }, undefined, {
    trace: 'none',
    ...(placements ? { inside: placements } : {}),
  });
  const answer = (id: string) => run.injections.find((r) => r.injection.id === id);
  const incident = (id: string) => `00000000-0000-4000-8000-00000000000${handled.indexOf(id) + 1}`;
  const events: (Line & { time: number })[] = [];
  for (const o of ops) {
    events.push({ type: 'op', phase: 'invoke', time: o.invoke, injection: o.id, incident: incident(o.id) });
    events.push({ type: 'op', phase: 'ok', time: o.done, injection: o.id, incident: incident(o.id), rc: answer(o.id)?.rc ?? null });
  }
  events.sort((a, b) => a.time - b.time);
  return [
    { type: 'run', scenario: RACE, seed: 1, startedAt: '2026-12-05T05:00:00.000Z' },
    ...events,
    { type: 'final', state: outcomeToJson(run.outcome), records: handled.map((id) => ({ incident: incident(id), injection: id, signals: answer(id)?.sent ?? 0, unmaps: [] })) },
  ];
}

describe('checkHistory: races with an unbind (linearization)', () => {
  it('the model answers differ on the two sides of the unbind (the tests below depend on it)', () => {
    const first = raceHistory([{ id: 'p1', invoke: 0, done: 1 }], ['p1', 'u']);
    const later = raceHistory([{ id: 'p1', invoke: 0, done: 1 }], ['u', 'p1']);
    assert.equal((first[2] as Line).rc, 0);
    assert.equal((later[2] as Line).rc, 'ENXIO');
  });

  it('replays in invoke order when nothing races the unbind', () => {
    const r = check(raceHistory([{ id: 'p1', invoke: 0, done: 5 }, { id: 'u', invoke: 10, done: 100 }, { id: 'p2', invoke: 120, done: 130 }], ['p1', 'u', 'p2']));
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.stats.modelRuns, 1);
    assert.equal(r.stats.linearization.order, 'invoke');
    assert.deepEqual(r.stats.linearization.around, [{ injection: 'u', incident: r.stats.linearization.around[0]?.incident, overlapping: 0, before: 0, after: 0, inside: 0, moved: 0 }]);
    assert.deepEqual(r.stats.linearization.points, []);
  });

  it('passes an operation invoked during the unbind and handled before it (rc 0)', () => {
    // u is in flight from 10 to 100; p1, invoked at 20, was handled first; p2 at 30, after it.
    const lines = raceHistory(
      [
        { id: 'u', invoke: 10, done: 100 },
        { id: 'p1', invoke: 20, done: 50 },
        { id: 'p2', invoke: 30, done: 110 },
      ],
      ['p1', 'u', 'p2'],
    );
    assert.equal(lines.find((l) => l.phase === 'ok' && l.injection === 'p1')?.rc, 0);
    const plain = check(lines);
    assert.deepEqual(plain.anomalies, []);
    assert.equal(plain.ok, true);
    assert.equal(plain.stats.linearization.order, 'guided');
    assert.deepEqual(
      plain.stats.linearization.around.map(({ injection, overlapping, before, after, moved }) => ({ injection, overlapping, before, after, moved })),
      [{ injection: 'u', overlapping: 2, before: 1, after: 1, moved: 1 }],
    );
    // Two probe runs and one replay of the guided order.
    assert.equal(plain.stats.modelRuns, 3);
  });

  it('fails an operation invoked after the unbind completed that got rc 0: real time forbids moving it', () => {
    const r = check(
      raceHistory(
        [
          { id: 'u', invoke: 10, done: 100 },
          { id: 'p1', invoke: 150, done: 160 },
        ],
        ['p1', 'u'],
      ),
    );
    assert.equal(r.ok, false);
    assert.deepEqual(names(r), ['wrong-outcome']);
    assert.ok(r.anomalies.some((a) => a.field === 'rc' && a.injection === 'p1' && /expected "ENXIO", got 0/.test(a.detail)), JSON.stringify(r.anomalies));
    assert.equal(r.stats.linearization.order, 'invoke');
    assert.equal(r.stats.linearization.around[0]?.overlapping, 0);
  });

  it('fails racing answers no real-time order explains', () => {
    // p2 saw the dead device (ENXIO) and completed at 30; p1, invoked only at 40, still saw it
    // alive (rc 0): p1 before u before p2 contradicts p2 completing before p1 was invoked.
    const r = check(
      raceHistory(
        [
          { id: 'u', invoke: 10, done: 100 },
          { id: 'p2', invoke: 20, done: 30 },
          { id: 'p1', invoke: 40, done: 60 },
        ],
        ['p1', 'u', 'p2'],
      ),
    );
    assert.equal(r.ok, false);
    assert.deepEqual(names(r), ['wrong-outcome']);
    assert.ok(!r.stats.linearization.ordersTried.includes('guided'), r.stats.linearization.ordersTried.join());
  });

  it('places an operation that commutes with the unbind wherever real time allows', () => {
    // q (on pmem1) answers the same on both sides. It completed at 40, before p1 (which must go
    // before u) was invoked at 50, so it goes before u as well; p2 must go after u.
    const lines = raceHistory(
      [
        { id: 'u', invoke: 10, done: 100 },
        { id: 'q', invoke: 20, done: 40 },
        { id: 'p1', invoke: 50, done: 90 },
        { id: 'p2', invoke: 60, done: 110 },
      ],
      ['q', 'p1', 'u', 'p2'],
    );
    const r = check(lines);
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.stats.linearization.order, 'guided');
    assert.deepEqual(
      r.stats.linearization.around.map(({ overlapping, before, after }) => ({ overlapping, before, after })),
      [{ overlapping: 3, before: 2, after: 1 }],
    );
  });

  it('the model answers at hop boundaries inside the unbind match neither side (the tests below depend on it)', () => {
    // Boundary 8: the pre-remove walk has unmapped and signalled pid 301 (no signal for p1) and
    // the page ends up not HWPoison; boundary 9: rc EIO. Before u: rc 0, 1 signal; after: ENXIO.
    const at = (b: number) => raceHistory([{ id: 'p1', invoke: 0, done: 1 }], ['u', 'p1'], { id: 'p1', boundary: b });
    const p1 = (lines: Line[]) => [lines.find((l) => l.phase === 'ok')?.rc, (finalOf(lines).records as { injection: string; signals: number }[]).find((r) => r.injection === 'p1')?.signals];
    assert.deepEqual(p1(at(1)), [0, 1]);
    assert.deepEqual(p1(at(8)), [0, 0]);
    assert.deepEqual(p1(at(9)), ['EIO', 0]);
    assert.deepEqual(p1(at(99)), ['ENXIO', 0]);
    assert.deepEqual(finalOf(at(8)).state.pages, [{ pfn: '0x123450', hwpoison: false }]);
  });

  it('places a racing injection handled between two hops of the unbind at that hop boundary', () => {
    for (const boundary of [8, 9]) {
      const lines = raceHistory(
        [
          { id: 'u', invoke: 10, done: 100 },
          { id: 'p1', invoke: 20, done: 60 },
          { id: 'p2', invoke: 30, done: 110 },
        ],
        ['u', 'p1', 'p2'],
        { id: 'p1', boundary },
      );
      const r = check(lines);
      assert.deepEqual(r.anomalies, [], `boundary ${boundary}`);
      const l = r.stats.linearization;
      assert.equal(l.order, 'points');
      assert.deepEqual(
        l.points.map(({ injection, host, boundary: b, boundaries }) => ({ injection, host, boundary: b, boundaries })),
        [{ injection: 'p1', host: 'u', boundary, boundaries: 12 }],
      );
      assert.deepEqual(
        l.around.map(({ overlapping, before, inside, after }) => ({ overlapping, before, inside, after })),
        [{ overlapping: 2, before: 0, inside: 1, after: 1 }],
      );
      // Two side probes, one boundary count, the boundaries tried, one full replay.
      assert.ok(l.pointReplays >= boundary - 5 && r.stats.modelRuns === 2 + l.pointReplays + 1, JSON.stringify({ l, runs: r.stats.modelRuns }));
    }
  });

  it('moves inside with it an operation real time forces in (invoked after the placed one completed)', () => {
    // p5 (a page no process maps) answers rc 0 before the unbind and at boundary 8 alike, so the
    // guided order puts it before u; but it was invoked after p1 (inside, at 8) completed.
    const lines = raceHistory(
      [
        { id: 'u', invoke: 10, done: 100 },
        { id: 'p1', invoke: 20, done: 40 },
        { id: 'p5', invoke: 50, done: 70 },
      ],
      ['u', 'p1', 'p5'],
      { id: 'p1', boundary: 8 },
      { id: 'p5', boundary: 8 },
    );
    const r = check(lines);
    assert.deepEqual(r.anomalies, []);
    assert.deepEqual(
      r.stats.linearization.points.map(({ injection, boundary, reason }) => ({ injection, boundary, reason })),
      [
        { injection: 'p1', boundary: 8, reason: 'answer' },
        { injection: 'p5', boundary: 8, reason: 'real-time' },
      ],
    );
  });

  it('places an operation whose answer matches a side but whose page does not (no records: rc only)', () => {
    // Without records only the rc is compared: p1's rc 0 is the "before" answer, but its page is
    // not HWPoison in the final state — only boundary 8 (or later, until EIO) leaves it so.
    const lines = raceHistory(
      [
        { id: 'u', invoke: 10, done: 100 },
        { id: 'p1', invoke: 20, done: 60 },
      ],
      ['u', 'p1'],
      { id: 'p1', boundary: 8 },
    );
    const fin = finalOf(lines);
    fin.state.incidents = lines.filter((l) => l.phase === 'ok').map((l) => ({ id: l.injection, incident: l.incident, traceId: '0'.repeat(32), status: 'complete' }));
    delete fin.records;
    const r = check(lines);
    assert.deepEqual(r.anomalies, []);
    assert.deepEqual(
      r.stats.linearization.points.map(({ injection, boundary, reason }) => ({ injection, boundary, reason })),
      [{ injection: 'p1', boundary: 8, reason: 'state' }],
    );
    // And its page poisoned after all: placed before u, as the guided order does.
    (fin.state.pages as { pfn: string; hwpoison: boolean }[])[0] = { pfn: '0x123450', hwpoison: true };
    const plain = check(lines);
    assert.deepEqual(plain.anomalies, []);
    assert.deepEqual(plain.stats.linearization.points, []);
    assert.equal(plain.stats.linearization.order, 'guided');
  });

  it('still fails a racing answer no hop boundary explains, with the usual anomaly names', () => {
    const lines = raceHistory(
      [
        { id: 'u', invoke: 10, done: 100 },
        { id: 'p1', invoke: 20, done: 60 },
      ],
      ['u', 'p1'],
      { id: 'p1', boundary: 8 },
    );
    // rc 0 with two signals: neither side nor any point inside the unbind sends two for p1.
    const rec = (finalOf(lines).records as { injection: string; signals: number }[]).find((x) => x.injection === 'p1');
    assert.ok(rec);
    rec.signals = 2;
    const r = check(lines);
    assert.equal(r.ok, false);
    // The best order left (the guided one, p1 placed after the unbind) also has the page's state wrong.
    assert.deepEqual(names(r), ['duplicate-signal', 'wrong-outcome']);
    assert.ok(r.anomalies.some((a) => a.injection === 'p1' && a.field === 'records.signals'), JSON.stringify(r.anomalies));
    assert.deepEqual(
      r.stats.linearization.points.map(({ injection, boundary }) => ({ injection, boundary })),
      [{ injection: 'p1', boundary: null }],
    );
    assert.ok(r.stats.linearization.pointReplays > 0);
    assert.notEqual(r.stats.linearization.order, 'points');
  });

  it('bounds the hop boundaries it searches', () => {
    const lines = raceHistory(
      [
        { id: 'u', invoke: 10, done: 100 },
        { id: 'p1', invoke: 20, done: 60 },
      ],
      ['u', 'p1'],
      { id: 'p1', boundary: 8 },
    );
    const r = checkHistory(parse(lines), { maxPointReplays: 4 });
    assert.equal(r.ok, false);
    assert.equal(r.stats.linearization.pointReplays, 4);
    assert.deepEqual(r.stats.linearization.points.map((p) => p.boundary), [null]);
  });

  it('bounds the orders it replays', () => {
    const lines = raceHistory(
      [
        { id: 'u', invoke: 10, done: 100 },
        { id: 'p1', invoke: 20, done: 50 },
      ],
      ['p1', 'u'],
    );
    const r = checkHistory(parse(lines), { maxOrders: 1 });
    assert.deepEqual(r.stats.linearization.ordersTried, ['guided']);
    assert.equal(r.ok, true);
  });
});

describe('parseHistory', () => {
  function problem(t: string): string {
    const r = parseHistory(t);
    assert.equal(r.ok, false);
    return r.ok ? '' : formatHistoryProblem(r.problem);
  }

  it('round-trips lines written by historyLine', () => {
    const lines = cleanLines();
    const t = lines.map((l) => historyLine(l as never)).join('\n');
    const r = parseHistory(t);
    assert.ok(r.ok);
    assert.equal(r.history.events.length, 8);
    assert.equal(r.history.final.line, 10);
  });

  it('names the line and the field of a malformed line', () => {
    const lines = cleanLines();
    const t = text(lines).split('\n');
    t[3] = '{"type":"op","phase":"done","time":20,"injection":"i1","incident":"x"}';
    assert.equal(problem(t.join('\n')), 'line 4: field "phase": must be one of invoke, ok, fail, info, got "done"');
  });

  it('reports a line that is not JSON', () => {
    const t = text(cleanLines()).split('\n');
    t[2] = '{"type": "fault",';
    assert.match(problem(t.join('\n')), /^line 3: not JSON/);
  });

  it('reports bad times, lags, fault objects and final states', () => {
    const base = text(cleanLines()).split('\n');
    const at = (i: number, l: string): string => {
      const t = [...base];
      t[i] = l;
      return t.join('\n');
    };
    assert.match(problem(at(1, '{"type":"lag","time":-1,"group":"mm","lag":0}')), /^line 2: field "time"/);
    assert.match(problem(at(1, '{"type":"lag","time":1,"group":"mm","lag":1.5}')), /^line 2: field "lag"/);
    assert.match(problem(at(2, '{"type":"fault","phase":"start","time":1,"fault":{"kind":"kill"}}')), /^line 3: field "fault.target"/);
    assert.match(problem(at(9, '{"type":"final","state":{"signals":{}}}')), /^line 10: field "state.signals"/);
    assert.match(problem(at(9, '{"type":"final","state":{"signals":[],"actionResults":[],"pages":[],"ptes":[],"filesystems":{},"devices":{}},"records":[{"incident":"x"}]}')), /^line 10: field "records\[0\]\.signals"/);
  });

  it('checks the order: run first, completions after invokes, nothing after final', () => {
    const lines = cleanLines();
    assert.match(problem(text(lines.slice(1))), /^line 1: field "type": the first line must be the run line/);
    assert.match(problem(text([lines[0] as Line, lines[7] as Line, lines[9] as Line])), /^line 2: field "incident": ok for incident .* which was never invoked/);
    assert.match(problem(`${text(lines)}{"type":"lag","time":1,"group":"mm","lag":0}\n`), /^line 11: field "type": nothing may follow the final line/);
    assert.match(problem(text(lines.slice(0, 9))), /no final line/);
    assert.match(problem(''), /empty history/);
    assert.match(problem(text([lines[0] as Line, lines[3] as Line, lines[3] as Line])), /^line 3: field "incident": .* already invoked/);
  });
});
