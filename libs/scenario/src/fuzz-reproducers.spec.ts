/**
 * The inputs fuzzing found (issue 7), each as a test: whatever `check` accepts, `run` runs, and
 * what it cannot run within its stated bounds (SCENARIO_LIMITS) is refused naming the field and
 * the limit. No timing here: the refusals are asserted by message, the runs by their result.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { stringify } from 'yaml';

import { compareOutcome } from './compare';
import { outcomeToJson, type Outcome, type OutcomeSignal } from './outcome';
import { parseScenario, SCENARIO_LIMITS, type ParseScenarioResult } from './parse-scenario';
import { runScenario } from './run-scenario';
import type { ExpectedSignal, Scenario, ScenarioIssue } from './scenario.types';
import { matchSignals } from './signal-matching';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;

function parse(doc: Doc | string): ParseScenarioResult {
  return parseScenario(typeof doc === 'string' ? doc : stringify(doc), 'fuzz.yaml');
}

function valid(doc: Doc | string): Scenario {
  const result = parse(doc);
  if (!result.ok) assert.fail(result.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return result.scenario;
}

function issues(doc: Doc | string): ScenarioIssue[] {
  const result = parse(doc);
  assert.equal(result.ok, false, 'expected the file to be refused');
  return result.ok ? [] : result.issues;
}

function issueAt(list: ScenarioIssue[], path: string, message: RegExp): void {
  assert.ok(
    list.some((i) => i.path === path && message.test(i.message)),
    `expected an issue at ${path} matching ${message}, got:\n${list.map((i) => `${i.path}: ${i.message}`).join('\n')}`,
  );
}

const PMEM0 = { name: 'pmem0', physAddr: '0x100000000', size: '64GiB', dataOffset: '0x10200000' };

/** A file of `pages` pages in four extents, mapped `maps` times by pid 100. */
function bigMapping(pages: number, maps: number, faulted: 'all' | 'none', madvise?: number): Doc {
  const quarter = pages / 4;
  return {
    name: 'big',
    pmem: [PMEM0],
    filesystems: [
      {
        name: 'xfs0',
        device: 'pmem0',
        agBlocks: 4194304,
        files: [{ path: '/F', ino: 131, extents: [0, 1, 2, 3].map((k) => ({ offset: k * quarter, block: 100000 + k * quarter, count: quarter })) }],
      },
    ],
    processes: [
      {
        pid: 100,
        comm: 'app',
        mmaps: Array.from({ length: maps }, (_, k) => ({ fs: 'xfs0', path: '/F', start: `0x${(0x7f0000000000 + k * 0x1000000000).toString(16)}`, pgoff: 0, pages, faulted })),
      },
    ],
    ...(madvise === undefined ? {} : { injections: [{ id: 'i1', madvise: { pid: 100, addr: '0x7f0000000000', pages: madvise } }] }),
  };
}

describe('issue 7 §9: allocation groups', () => {
  it('a 3 PiB namespace with 512-byte blocks and agBlocks 1 is refused at agBlocks, the limit named', () => {
    const list = issues({ name: 'x', pmem: [{ ...PMEM0, size: '3PiB' }], filesystems: [{ name: 'xfs0', device: 'pmem0', blockSize: 512, agBlocks: 1 }] });
    issueAt(list, 'filesystems[0].agBlocks', /6597069238272 allocation groups; the model handles at most 1048576 \(2\^20\)/);
  });

  it('agCount 4294967295 on 4 TiB is refused at agCount, the limit named', () => {
    const list = issues({ name: 'x', pmem: [{ ...PMEM0, size: '4TiB' }], filesystems: [{ name: 'xfs0', device: 'pmem0', blockSize: 512, agBlocks: 1, agCount: 4294967295 }] });
    issueAt(list, 'filesystems[0].agCount', /agCount 4294967295 is too many: the model handles at most 1048576/);
  });

  it('2^20 groups (4 TiB in groups of 1024 blocks) run, an unbind walking every group included', () => {
    const scenario = valid({
      name: 'x',
      pmem: [{ ...PMEM0, size: '4TiB' }],
      filesystems: [{ name: 'xfs0', device: 'pmem0', agBlocks: 1024, files: [{ path: '/F', ino: 131, extents: [{ offset: 0, block: 1000, count: 16 }] }] }],
      processes: [{ pid: 100, comm: 'app', mmaps: [{ fs: 'xfs0', path: '/F', start: '0x7f0000000000', pgoff: 0, pages: 16, faulted: 'all' }] }],
      injections: [{ id: 'u', unbind: { device: 'pmem0', pid: 1 } }],
      expect: { injections: { u: { rc: 0 } }, filesystems: { xfs0: { shutdown: 'SHUTDOWN_FORCE_UMOUNT' } } },
    });
    const run = runScenario(scenario);
    assert.deepEqual(run.mismatches, []);
  });
});

describe('issue 7 §10: totals over all mappings and injections', () => {
  it('one mapping of 2^20 pages and a madvise of 2^20 pages: refused naming both totals', () => {
    const list = issues(bigMapping(1 << 20, 1, 'none', 1 << 20));
    issueAt(list, 'processes[0].mmaps[0].pages', new RegExp(`limited to ${SCENARIO_LIMITS.mappedPages} pages`));
    issueAt(list, 'injections[0].madvise.pages', new RegExp(`limited to ${SCENARIO_LIMITS.injectedPages} pages`));
  });

  it('four mappings faulted: all, each within the per-mapping limit: refused by the totals', () => {
    const list = issues(bigMapping(1 << 15, 5, 'all'));
    issueAt(list, 'processes[0].mmaps[1].faulted', new RegExp(`limited to ${SCENARIO_LIMITS.faultedPages} faulted pages`));
    issueAt(list, 'processes[0].mmaps[4].pages', /total over all mappings is limited to 131072 pages/);
  });

  it('at the limits the file is accepted and runs', () => {
    const doc = bigMapping(SCENARIO_LIMITS.faultedPages, 1, 'all', 1024);
    const run = runScenario(valid(doc));
    assert.equal(run.outcome.ptes.length, SCENARIO_LIMITS.faultedPages);
    assert.equal(run.outcome.signals.length, 1024);
  });
});

describe('issue 7 §11: signal matching is polynomial and iterative', () => {
  const AR = (addr: bigint): OutcomeSignal => ({ pid: 100, signo: 'SIGBUS', code: 'BUS_MCEERR_AR', addr, lsb: 12 });
  const outcome = (signals: OutcomeSignal[]): Outcome => ({ injections: {}, signals, actionResults: [], filesystems: {}, devices: {}, pages: [], ptes: [], incidents: [] });
  const wildcard = (): ExpectedSignal => ({ pid: 100, signo: 'SIGBUS', code: 'BUS_MCEERR_AR' }) as ExpectedSignal;

  it('12,000 signals against 12,000 expectations without addr: all matched', () => {
    const sent = Array.from({ length: 12_000 }, (_, k) => AR(0x7f0000000000n + BigInt(k) * 0x1000n));
    assert.deepEqual(compareOutcome({ signals: Array.from({ length: 12_000 }, wildcard) }, outcome(sent)), []);
  });

  it('12,001 expectations for 12,000 signals: exactly one mismatch, the last expectation', () => {
    const sent = Array.from({ length: 12_000 }, (_, k) => AR(BigInt(k) * 0x1000n));
    const m = compareOutcome({ signals: Array.from({ length: 12_001 }, wildcard) }, outcome(sent));
    assert.deepEqual(m.map((x) => x.path), ['signals[12000]']);
  });

  it('finds the maximum matching on small random cases (checked by exhaustive search)', () => {
    let seed = 7;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const best = (e: ExpectedSignal[], a: OutcomeSignal[]): number => {
      const fits = (x: ExpectedSignal, y: OutcomeSignal): boolean =>
        x.pid === y.pid && x.code === y.code && (x.addr === undefined || x.addr === y.addr) && (x.lsb === undefined || x.lsb === y.lsb);
      const go = (i: number, used: boolean[]): number => {
        if (i === e.length) return 0;
        let most = go(i + 1, used);
        a.forEach((y, j) => {
          if (!used[j] && fits(e[i]!, y)) {
            used[j] = true;
            most = Math.max(most, 1 + go(i + 1, used));
            used[j] = false;
          }
        });
        return most;
      };
      return go(0, a.map(() => false));
    };
    for (let round = 0; round < 300; round++) {
      const signal = (): OutcomeSignal => ({ pid: 100 + random(2), signo: 'SIGBUS', code: random(2) ? 'BUS_MCEERR_AR' : 'BUS_MCEERR_AO', addr: BigInt(random(3)), lsb: [12, 21][random(2)]! });
      const sent = Array.from({ length: random(6) }, signal);
      const expected = Array.from({ length: random(6) }, () => {
        const s = signal();
        return { pid: s.pid, signo: s.signo, code: s.code, addr: random(2) ? s.addr : undefined, lsb: random(2) ? s.lsb : undefined } as ExpectedSignal;
      });
      const { matchedExpected, matchedActual } = matchSignals(expected, sent);
      const size = matchedExpected.filter(Boolean).length;
      assert.equal(size, matchedActual.filter(Boolean).length);
      assert.equal(size, best(expected, sent), JSON.stringify({ expected, sent }, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
    }
  });
});

describe('issue 7 §12: names spelled __proto__', () => {
  it('a pmem device and an injection named __proto__ stay in the outcome and its JSON', () => {
    const run = runScenario(
      valid({
        name: 'x',
        pmem: [{ ...PMEM0, name: '__proto__' }],
        injections: [{ id: '__proto__', corruptPfn: { pfn: '0x110200' } }],
        expect: { injections: { __proto__: { rc: 'EBUSY' } }, devices: { __proto__: { alive: true, holder: 'none' } } },
      }),
    );
    assert.deepEqual(run.mismatches, []);
    assert.deepEqual(Object.keys(run.outcome.devices), ['__proto__']);
    assert.deepEqual(Object.keys(run.outcome.injections), ['__proto__']);
    const json = JSON.stringify(outcomeToJson(run.outcome));
    assert.match(json, /"devices":\{"__proto__":\{"alive":true,"holder":"none"\}\}/);
    assert.match(json, /"injections":\{"__proto__":\{"rc":"EBUSY"\}\}/);
  });

  it('a name such as constructor is not found on Object.prototype', () => {
    const run = runScenario(valid({ name: 'x', pmem: [PMEM0], injections: [{ id: 'i1', corruptPfn: { pfn: '0x110200' } }] }));
    assert.deepEqual(compareOutcome({ injections: { i1: { rc: 'EBUSY' } } }, run.outcome), []);
    assert.equal(Object.hasOwn(run.outcome.injections, 'constructor'), false);
  });
});

describe('issue 7 §13: validation is not quadratic', () => {
  // The files are written as flow-style YAML text, as the fuzzer's 1.8 MB reproducer was.
  const pmemWith = (partitions: string): string =>
    `name: x\npmem:\n  - name: pmem0\n    physAddr: "0x100000000"\n    size: 16GiB\n    dataOffset: "0x10200000"\n    partitions:\n${partitions}`;

  // The 40,000-partition reproducer itself runs through the CLI in tools/cli fuzz.spec.ts.
  it('10,000 partitions are checked', () => {
    valid(pmemWith(Array.from({ length: 10_000 }, (_, k) => `      - { name: p${k}, start: ${2048 + k * 8}, sectors: 8 }\n`).join('')));
  });

  it('the sweep still reports a three-way overlap, against the earlier range', () => {
    const list = issues(pmemWith('      - { name: a, start: 0, sectors: 100 }\n      - { name: b, start: 200, sectors: 10 }\n      - { name: c, start: 50, sectors: 200 }\n'));
    issueAt(list, 'pmem[0].partitions[2]', /^sectors 50\.\.99 overlap a \(pmem\[0\]\.partitions\[0\]\)$/);
  });

  it('2,000 mappings and 2,000 injections are checked; a gap between mappings is still found', () => {
    const start = (k: number): string => `0x${(0x100000000 + k * 0x2000).toString(16)}`;
    const text = (hole: boolean): string =>
      `name: x\n${'pmem:\n  - { name: pmem0, physAddr: "0x100000000", size: 64GiB, dataOffset: "0x10200000" }\n'}` +
      'filesystems:\n  - { name: xfs0, device: pmem0, agBlocks: 4194304, files: [{ path: /F, ino: 131, extents: [{ offset: 0, block: 1000, count: 4 }] }] }\n' +
      `processes:\n  - pid: 100\n    comm: a\n    mmaps:\n${Array.from({ length: 2000 }, (_, k) => `      - { fs: xfs0, path: /F, start: "${start(k)}", pgoff: 0, pages: 1 }\n`).join('')}` +
      `injections:\n${Array.from({ length: 2000 }, (_, k) => `  - { id: i${k}, access: { pid: 100, addr: "${hole && k === 1999 ? '0x100001000' : start(k)}" } }\n`).join('')}`;
    valid(text(false));
    issueAt(issues(text(true)), 'injections[1999].access.addr', /^0x100001000 is outside every mapping of pid 100 \(pid 100 maps 0x100000000\.\.0x100000fff, .*… \(2000 mappings\)\)$/);
  });
});

describe('issue 7 §14: ids written as numbers', () => {
  const base = { name: 'x', pmem: [PMEM0], injections: [{ id: 1, corruptPfn: { pfn: '0x110200' } }] };

  it('id: 1 in injections and in expect.incidents is the text "1"', () => {
    const run = runScenario(valid({ ...base, expect: { injections: { 1: { rc: 'EBUSY' } }, incidents: [{ id: 1, status: 'complete' }] } }));
    assert.deepEqual(run.mismatches, []);
  });

  it('an id in expect.incidents that no injection has is an invalid file (exit 2), as in expect.injections', () => {
    issueAt(issues({ ...base, expect: { incidents: [{ id: 2 }] } }), 'expect.incidents[0].id', /^no injection has id '2'$/);
  });
});

describe('issue 7 §15: messages', () => {
  it('1,000 nested [ are "nested too deeply", not a stack overflow', () => {
    // Depending on the stack left, the YAML parser or the reader's own depth limit refuses it.
    const list = issues(`name: x\ndescription: ${'['.repeat(1000)}${']'.repeat(1000)}\n`);
    assert.ok(list.some((i) => /nested too deeply/.test(i.message)), list.map((i) => i.message).join('\n'));
    assert.ok(list.every((i) => !/call stack/i.test(i.message)));
  });

  it('40 nested lists are refused the same way, by the reader', () => {
    issueAt(issues(`name: x\ndescription: ${'['.repeat(40)}${']'.repeat(40)}\n`), 'description[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]', /nested too deeply/);
  });

  it('physAddr: "0x" has no digits after 0x', () => {
    issueAt(issues({ name: 'x', pmem: [{ ...PMEM0, physAddr: '0x' }] }), 'pmem[0].physAddr', /^no digits after 0x in "0x"$/);
  });

  it('an unknown YAML tag is refused, a core one is not', () => {
    issueAt(issues('name: !nonsense x\n'), '', /unknown YAML tag !nonsense at line 1, column 7/);
    issueAt(issues('name: !!binary aGVsbG8=\n'), '', /unknown YAML tag/);
    valid('name: !!str 12\n');
  });

  it('cod suggests code, not pid; a far-off key suggests nothing', () => {
    const doc = { name: 'x', pmem: [PMEM0], processes: [{ pid: 100, comm: 'a' }], expect: { signals: [{ pid: 100, cod: 'BUS_MCEERR_AR' }] } };
    issueAt(issues(doc), 'expect.signals[0].cod', /^unknown key 'cod' \(did you mean 'code'\?\)/);
    doc.expect.signals = [{ pid: 100, code: 'BUS_MCEERR_AR', xyz: 1 }] as never;
    issueAt(issues(doc), 'expect.signals[0].xyz', /^unknown key 'xyz'; expected one of/);
  });
});
