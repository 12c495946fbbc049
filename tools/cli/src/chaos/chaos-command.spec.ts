/**
 * `mfsim chaos check`: the exit codes (0 no anomaly, 1 an anomaly, 2 unreadable or malformed),
 * the report and the one-line error naming the line and field. Spawns the real command.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

import { HELP, helpFor } from '../main-help';
import { renderCheck } from './chaos-command';

const REPO = resolve(__dirname, '../../../..');
const MFSIM = join(REPO, 'tools/cli/bin/mfsim.js');
const HISTORIES = join(REPO, 'scenarios/chaos/histories');
const TMP = mkdtempSync(join(tmpdir(), 'mfsim-chaos-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

function mfsim(...args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [MFSIM, ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
}

/** The clean sample with its scenario inlined (so it can live in a temp directory), edited by `edit`. */
function tempHistory(name: string, edit: (lines: Record<string, unknown>[]) => void): string {
  const lines = readFileSync(join(HISTORIES, 'clean.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  (lines[0] as Record<string, unknown>).scenario = readFileSync(join(REPO, 'scenarios/examples/03-reflinked-block-two-owners.yaml'), 'utf8');
  edit(lines);
  const file = join(TMP, name);
  writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
  return file;
}

describe('mfsim chaos check', () => {
  it('says how many operations it linearized around an unbind, and only when there is one', () => {
    const stats = { invoked: 3, ok: 3, fail: 0, info: 0, unfinished: 0, faults: 0, lagSamples: 0, modelRuns: 3, assumedHappened: [] };
    const raced = renderCheck('h.jsonl', {
      ok: true,
      anomalies: [],
      recovery: [],
      stats: {
        ...stats,
        linearization: { order: 'guided', ordersTried: ['guided'], around: [{ injection: 'u', incident: 'x', overlapping: 2, before: 1, after: 1, inside: 0, moved: 1 }], points: [], pointReplays: 0 },
      },
    });
    assert.match(raced, /^ {2}Linearized 2 overlapping operation\(s\) around the u unbind \(1 placed before it, 1 after; 1 moved from invoke order\); the model replayed the guided order/m);
    assert.doesNotMatch(raced, /Hop boundaries/);
    const inside = renderCheck('h.jsonl', {
      ok: false,
      anomalies: [],
      recovery: [],
      stats: {
        ...stats,
        linearization: {
          order: 'points',
          ordersTried: ['points', 'guided'],
          around: [{ injection: 'u', incident: 'x', overlapping: 3, before: 1, after: 1, inside: 1, moved: 1 }],
          points: [
            { injection: 'p1', incident: 'y', host: 'u', boundary: 8, boundaries: 12, reason: 'answer' },
            { injection: 'p2', incident: 'z', host: 'u', boundary: null, boundaries: 12, reason: 'answer' },
          ],
          pointReplays: 13,
        },
      },
    });
    assert.match(inside, /\(1 placed before it, 1 inside it at hop boundaries, 1 after; 1 moved from invoke order\); the model replayed the points order/);
    assert.match(
      inside,
      /Hop boundaries \(13 model run\(s\)\): 1 operation\(s\) placed inside \(1 by their answer, 0 by the final state, 0 forced by real time\): p1 at 8\/12 of u; 1 answer\(s\) no boundary explains \(p2\)\./,
    );
    const plain = renderCheck('h.jsonl', { ok: true, anomalies: [], recovery: [], stats: { ...stats, linearization: { order: 'invoke', ordersTried: ['invoke'], around: [], points: [], pointReplays: 0 } } });
    assert.doesNotMatch(plain, /Linearized/);
  });

  it('exits 0 on the clean sample history and prints the recovery time', () => {
    const r = mfsim('chaos', 'check', 'scenarios/chaos/histories/clean.jsonl');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /fault kill xfs-fs \(120–2120 ms\): recovered after 830 ms/);
    assert.match(r.stdout, /^PASS scenarios\/chaos\/histories\/clean\.jsonl: no anomaly/m);
    assert.equal(r.stderr, '');
  });

  it('exits 1 on the duplicate-signal sample, naming the anomaly', () => {
    const r = mfsim('chaos', 'check', 'scenarios/chaos/histories/duplicate-signal.jsonl');
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^✗ duplicate-signal: SIGBUS BUS_MCEERR_AR to pid 201/m);
    assert.match(r.stdout, /^✗ duplicate-signal \[i1 5d0c6f1e-2b7a-4c39-9e84-7a1f0b3c2d11\]: incident .* sent 2 signal\(s\), the model sends 1$/m);
    assert.match(r.stdout, /^FAIL .*2 anomalies \(duplicate-signal\)/m);
  });

  it('prints one JSON object with --json', () => {
    const r = mfsim('chaos', 'check', '--json', 'scenarios/chaos/histories/duplicate-signal.jsonl');
    assert.equal(r.status, 1, r.stderr);
    const out = JSON.parse(r.stdout) as { ok: boolean; anomalies: { name: string }[]; recovery: { ms: number }[] };
    assert.equal(out.ok, false);
    assert.deepEqual(out.anomalies.map((a) => a.name), ['duplicate-signal', 'duplicate-signal']);
    assert.equal(out.recovery[0]?.ms, 830);
  });

  it('exits 1 for an unfinished incident in a temp history with an inline scenario', () => {
    const file = tempHistory('unfinished.jsonl', (lines) => {
      lines.splice(9, 1); // the ok line
      delete (lines[lines.length - 1] as Record<string, unknown>).records;
    });
    const r = mfsim('chaos', 'check', file);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stdout, /^✗ unfinished \[i1 /m);
    assert.match(r.stdout, /recovered never/);
  });

  it('exits 2 with one line naming the line and field of a malformed history', () => {
    const file = tempHistory('malformed.jsonl', (lines) => {
      (lines[3] as Record<string, unknown>).time = 'soon';
    });
    const r = mfsim('chaos', 'check', file);
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, `mfsim chaos check: ${file}: line 4: field "time": must be a number of milliseconds >= 0, got "soon"\n`);
  });

  it('exits 2 on a line that is not JSON, never with a stack trace', () => {
    const file = join(TMP, 'garbage.jsonl');
    writeFileSync(file, '{"type":"run","scenario":"x.yaml","seed":1,"startedAt":"t"}\n{oops\n');
    const r = mfsim('chaos', 'check', file);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^mfsim chaos check: .*garbage\.jsonl: line 2: not JSON/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.doesNotMatch(r.stderr, /at .*\.js:\d+/);
  });

  it('exits 2 when the history or its scenario cannot be read', () => {
    const missing = mfsim('chaos', 'check', join(TMP, 'nope.jsonl'));
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /nope\.jsonl: cannot read: no such file\n$/);
    const file = tempHistory('noscenario.jsonl', (lines) => {
      (lines[0] as Record<string, unknown>).scenario = 'does-not-exist.yaml';
    });
    const r = mfsim('chaos', 'check', file);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /line 1: field "scenario": cannot read the scenario does-not-exist\.yaml: no such file\n$/);
  });

  it('exits 2 for an injection the scenario does not have', () => {
    const file = tempHistory('unknown-injection.jsonl', (lines) => {
      for (const l of lines) if (l.type === 'op') l.injection = 'i9';
    });
    const r = mfsim('chaos', 'check', file);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /line 5: field "injection": the scenario has no injection i9\n$/);
  });

  it('exits 2 on wrong usage; chaos run names the plan field at fault in one line', () => {
    assert.equal(mfsim('chaos', 'check').status, 2);
    assert.equal(mfsim('chaos', 'check', '--nope', 'x').status, 2);
    assert.equal(mfsim('chaos').status, 2);
    const run = mfsim('chaos', 'run', 'no-such-plan.yaml');
    assert.equal(run.status, 2);
    assert.equal(run.stderr, 'mfsim chaos run: no-such-plan.yaml: cannot read no-such-plan.yaml: ENOENT\n');
    const dir = mkdtempSync(join(tmpdir(), 'mfsim-plan-'));
    try {
      const plan = join(dir, 'p.yaml');
      writeFileSync(plan, 'seed: 1\ntopology: { generate: { devices: [pmem] } }\nfaults:\n  - { kind: kill, target: xfs-fs, at: 1s }\n');
      const bad = mfsim('chaos', 'run', plan);
      assert.equal(bad.status, 2);
      assert.equal(bad.stderr, `mfsim chaos run: ${plan}: faults[0].for: must be a duration such as 500ms, 2s or 1m, got nothing\n`);
      assert.equal(mfsim('chaos', 'run').status, 2);
      assert.equal(mfsim('chaos', 'run', plan, '--seed', 'x').status, 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('has help for chaos, chaos run and chaos check', () => {
    assert.equal(helpFor(['chaos', '--help']), HELP.chaos);
    assert.equal(helpFor(['chaos', 'run', '--help']), HELP['chaos run']);
    assert.match(HELP['chaos run'] ?? '', /--own-postgres/);
    assert.equal(helpFor(['chaos', 'check', '-h']), HELP['chaos check']);
    assert.match(HELP['chaos check'] ?? '', /exit status: 0 no anomaly, 1 an anomaly, 2/);
    assert.match(HELP[''] ?? '', /mfsim chaos check/);
    const r = mfsim('chaos', 'check', '--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /fault-not-effective/);
  });
});
