import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { parseScenario, runScenario } from '@mfsim/scenario';
import { parse as parseYaml } from 'yaml';

import { PlanError } from './nemesis/fault';
import { FAULT_KINDS } from './nemesis/registry';
import { buildRun, generateTopology, parsePlan, type Plan } from './plan';

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const PLANS = path.join(ROOT, 'scenarios', 'chaos', 'plans');
const FILE = path.join(PLANS, 'x.yaml');

function planError(raw: unknown): PlanError {
  try {
    parsePlan(raw, FILE);
  } catch (e) {
    assert.ok(e instanceof PlanError, `not a PlanError: ${String(e)}`);
    return e;
  }
  assert.fail('the plan was accepted');
}

const base = { seed: 1, topology: { generate: { devices: ['pmem'], files: 4, pages: 4 } }, workload: { injections: 8, inflight: 3 } };

describe('chaos plans: validation names the field', () => {
  const cases: [string, unknown, string, RegExp][] = [
    ['no topology', { seed: 1 }, 'topology', /is required/],
    ['both topologies', { ...base, topology: { scenario: 'a.yaml', generate: {} } }, 'topology', /either/],
    ['a bad device kind', { ...base, topology: { generate: { devices: ['nvme'] } } }, 'topology.generate.devices', /pmem, dm-upstream, dm-proposal/],
    ['a negative count', { ...base, workload: { injections: -1 } }, 'workload.injections', /integer from 0/],
    ['an unknown workload field', { ...base, workload: { storms: 3 } }, 'workload.storms', /unknown field/],
    ['an unknown injection kind', { ...base, workload: { kinds: ['madvise', 'rowhammer'] } }, 'workload.kinds', /non-empty list/],
    ['an unknown fault kind', { ...base, faults: [{ kind: 'meteor', target: 'xfs-fs', at: '1s', for: '1s' }] }, 'faults[0].kind', /unknown fault kind "meteor"/],
    ['a fault without a target', { ...base, faults: [{ kind: 'kill', at: '1s', for: '1s' }] }, 'faults[0].target', /is required/],
    ['a bad duration', { ...base, faults: [{ kind: 'kill', target: 'xfs-fs', at: 'soon', for: '1s' }] }, 'faults[0].at', /duration/],
    ['an overlapping fault', { ...base, faults: [{ kind: 'kill', target: 'xfs-fs', at: '1s', for: '5s' }, { kind: 'kill', target: 'xfs-fs', at: '3s', for: '1s' }] }, 'faults[1]', /overlaps faults\[0\]/],
    ['an unbind without a device', { ...base, workload: { unbinds: [{ after: 3 }] } }, 'workload.unbinds[0].device', /must name/],
    ['a tiny duration bound', { ...base, limits: { duration: '10ms' } }, 'limits.duration', /at least 1s/],
  ];
  for (const [what, raw, field, problem] of cases)
    it(what, () => {
      const e = planError(raw);
      assert.equal(e.field, field);
      assert.match(e.message, problem);
      assert.ok(e.message.startsWith(`${field}: `));
    });

  it('an unbind naming a device the topology does not have', () => {
    const plan = parsePlan({ ...base, workload: { unbinds: [{ device: 'pmem7', after: 1 }] } }, FILE);
    assert.throws(() => buildRun(plan), (e: unknown) => e instanceof PlanError && e.field === 'workload.unbinds[0].device' && /no device pmem7/.test(e.message));
  });

  it('the process, network and application fault kinds are registered', () => {
    assert.deepEqual(
      FAULT_KINDS.map((k) => k.kind),
      ['kill', 'pause', 'latency', 'blackhole', 'reset', 'slow-handler', 'consumer-delay', 'duplicate', 'malformed'],
    );
  });
});

describe('chaos plans: generated topology and workload', () => {
  it('the generated topology is a valid scenario with every device kind and reflinked files', () => {
    const text = generateTopology({ devices: ['pmem', 'dm-upstream', 'dm-proposal'], files: 5, pages: 3, reflinked: 2 }, 9, 'gen');
    const parsed = parseScenario(`${text}injections: []\n`, 'gen.yaml');
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues.slice(0, 3)));
    assert.equal(parsed.scenario.pmem.length, 3);
    assert.deepEqual(
      parsed.scenario.dm.map((d) => d.mode),
      ['upstream', 'proposal'],
    );
    assert.equal(parsed.scenario.processes.length, 15);
    // Two files of each filesystem share their blocks with another one.
    const fs0 = parsed.scenario.filesystems[0]!;
    const blocks = fs0.files.map((f) => f.extents[0]!.block);
    assert.equal(new Set(blocks).size, 3);
  });

  const plan = (over: Partial<Plan['workload']> = {}): Plan => {
    const p = parsePlan({ ...base, topology: { generate: { devices: ['pmem', 'dm-proposal'], files: 6, pages: 4, reflinked: 2 } }, workload: { injections: 30, inflight: 4, multiPage: 50, accesses: 5 } }, FILE);
    return { ...p, workload: { ...p.workload, ...over } };
  };

  it('is reproducible from the seed, and another seed gives another workload', () => {
    const a = buildRun(plan());
    const b = buildRun(plan());
    assert.equal(a.scenarioText, b.scenarioText);
    assert.deepEqual(a.steps, b.steps);
    const c = buildRun({ ...plan(), seed: 2 });
    assert.notEqual(c.scenarioText, a.scenarioText);
  });

  it('never puts two storm injections on one pfn, so concurrent ones commute; uses every kind', () => {
    const run = buildRun(plan());
    const boot = runScenario({ ...run.scenario, injections: [] }, undefined, { trace: 'none' });
    const pfnOf = (pid: number, addr: bigint) => (boot.kernel.mm.pageTables.get(pid)?.get(addr) as { pfn: bigint }).pfn;
    const seen = new Set<bigint>();
    const kinds = new Set<string>();
    for (const inj of run.scenario.injections) {
      kinds.add(inj.kind);
      if (inj.kind === 'access' || inj.kind === 'unbind') continue;
      const pfns =
        inj.kind === 'madvise' ? Array.from({ length: inj.pages }, (_, i) => pfnOf(inj.pid, inj.addr + BigInt(i) * 4096n)) : [inj.pfn];
      for (const pfn of pfns) {
        assert.ok(!seen.has(pfn), `pfn 0x${pfn.toString(16)} used twice`);
        seen.add(pfn);
      }
    }
    assert.deepEqual([...kinds].sort(), ['access', 'background', 'corruptPfn', 'madvise', 'mce']);
    assert.ok(run.scenario.injections.some((i) => i.kind === 'madvise' && i.pages === 2), 'a multi-page madvise');
    // The later accesses come after a barrier: every poisoning injection has finished first.
    const firstAccess = run.steps.findIndex((s) => s.kind === 'send' && run.scenario.injections.find((i) => i.id === s.injection)?.kind === 'access');
    assert.equal(run.steps[firstAccess - 1]?.kind, 'barrier');
  });

  it('the storm is bounded by the pages the topology has', () => {
    const run = buildRun(plan({ injections: 10_000, accesses: 0 }));
    // 2 filesystems × 4 own files × 4 pages (the reflinked copies share theirs).
    assert.ok(run.scenario.injections.length <= 32 && run.scenario.injections.length >= 16, String(run.scenario.injections.length));
  });

  it('repeat: a storm bigger than the pages sends them again in rounds, each after a barrier', () => {
    const p = parsePlan({ ...base, topology: { generate: { devices: ['pmem'], files: 2, pages: 4 } }, workload: { injections: 20, inflight: 4, kinds: ['corruptPfn'], repeat: true } }, FILE);
    const run = buildRun(p);
    assert.equal(run.scenario.injections.length, 8);
    const sends = run.steps.filter((s) => s.kind === 'send');
    assert.equal(sends.length, 20);
    // Rounds of the 8 distinct injections: i1..i8, a barrier, i1..i8 again, a barrier, i1..i4.
    assert.deepEqual(
      run.steps.map((s) => (s.kind === 'send' ? s.injection : '|')).join(' '),
      'i1 i2 i3 i4 i5 i6 i7 i8 | i1 i2 i3 i4 i5 i6 i7 i8 | i1 i2 i3 i4',
    );
    const without = buildRun({ ...p, workload: { ...p.workload, repeat: false } });
    assert.equal(without.steps.filter((s) => s.kind === 'send').length, 8);
  });

  it('a storm never injects more pages than a scenario may', () => {
    const p = parsePlan({ ...base, topology: { generate: { devices: ['pmem', 'pmem'], files: 80, pages: 64, faulted: false } }, workload: { injections: 9000, kinds: ['corruptPfn'] } }, FILE);
    assert.ok(buildRun(p).scenario.injections.length <= 8192);
    assert.throws(() => buildRun({ ...p, workload: { ...p.workload, kinds: ['madvise'] } }), /madvise need pages faulted in/);
  });

  it('an unbind goes alone between barriers, unless it races', () => {
    const p = plan({ unbinds: [{ device: 'pmem0', after: 10, race: false }] });
    const steps = buildRun(p).steps;
    const at = steps.findIndex((s) => s.kind === 'send' && s.injection === 'i11');
    assert.equal(steps[at - 1]?.kind, 'barrier');
    assert.equal(steps[at + 1]?.kind, 'barrier');
    const racing = buildRun(plan({ unbinds: [{ device: 'pmem0', after: 10, race: true }] })).steps;
    const r = racing.findIndex((s) => s.kind === 'send' && s.injection === 'i11');
    assert.equal(racing[r - 1]?.kind, 'send');
  });

  it('every named plan parses and builds, with fault kinds the registry knows', () => {
    const known = new Set(FAULT_KINDS.map((k) => k.kind));
    for (const f of readdirSync(PLANS).filter((n) => n.endsWith('.yaml'))) {
      const raw = parseYaml(readFileSync(path.join(PLANS, f), 'utf8')) as { faults?: { kind: string }[] };
      for (const x of raw.faults ?? []) assert.ok(known.has(x.kind), `${f}: ${x.kind}`);
      const p = parsePlan(raw, path.join(PLANS, f));
      const run = buildRun(p.workload.injections > 500 ? { ...p, workload: { ...p.workload, injections: 500 } } : p);
      assert.ok(run.steps.length > 0, f);
    }
  });
});
