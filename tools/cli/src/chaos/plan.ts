/**
 * A chaos plan (`mfsim chaos run PLAN.yaml`): a topology (a scenario file, or a seeded generator
 * of one), a seeded workload, the faults and the bounds. `parsePlan` checks every field and
 * names it in its error; `buildRun` turns a plan into the scenario the checker replays (the
 * topology plus one injection per operation) and the list of steps the runner sends.
 *
 * Concurrency and the checker: the checker replays acknowledged injections in invoke order, so
 * operations that are in flight together must commute. The workload keeps them on distinct pfns
 * (a storm never poisons the same page twice, a reflinked page counts once), and sends unbinds
 * alone (a barrier before and after) unless `race: true` asks for the race on purpose.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { Prng } from '@mfsim/kernel-model';
import { parseScenario, runScenario, SCENARIO_LIMITS, type Scenario } from '@mfsim/scenario';
import { parse as parseYaml } from 'yaml';

import { PlanError, type FaultSpec } from './nemesis/fault';
import { faultKind, FAULT_KINDS } from './nemesis/registry';

export const INJECTION_KINDS = ['madvise', 'corruptPfn', 'mce', 'background'] as const;
export type StormKind = (typeof INJECTION_KINDS)[number];
export const DEVICE_KINDS = ['pmem', 'dm-upstream', 'dm-proposal'] as const;
export type DeviceKind = (typeof DEVICE_KINDS)[number];

export interface GenerateSpec {
  /** One filesystem per entry: on a pmem namespace, or on a dm-linear over one (either mode). */
  readonly devices: DeviceKind[];
  readonly files: number;
  readonly pages: number;
  /** How many of each filesystem's files are reflink copies of another one (share its blocks). */
  readonly reflinked: number;
  /**
   * Whether the processes fault their pages in at set-up (default true). false: mapped but not
   * faulted — no set-up call per page (a 10,000-page storm starts at once), for the hardware
   * kinds (corruptPfn, background) that need no present page.
   */
  readonly faulted: boolean;
}

export interface UnbindSpec {
  readonly device: string;
  /** Sent after this many storm injections. */
  readonly after: number;
  /** Send it while the storm is in flight (no barrier): the outcome may then depend on the race. */
  readonly race: boolean;
}

export interface Plan {
  readonly name: string;
  readonly file: string;
  readonly seed: number;
  readonly topology: { readonly scenario: string } | { readonly generate: GenerateSpec };
  readonly workload: {
    readonly injections: number;
    readonly inflight: number;
    readonly kinds: StormKind[];
    /** Percent of madvise injections that cover two pages. */
    readonly multiPage: number;
    readonly unbinds: UnbindSpec[];
    readonly accesses: number;
    /** Pause between two sends (ms), to stretch a small workload over the fault windows. */
    readonly intervalMs: number;
    /**
     * When the storm asks for more injections than the topology has pages (or a scenario may
     * inject), send the storm's injections again, round after round (default false: the storm
     * stops at the last fresh page).
     */
    readonly repeat: boolean;
  };
  readonly faults: FaultSpec[];
  readonly limits: { readonly durationMs: number; readonly callTimeoutMs: number; readonly resendMs: number; readonly drainMs: number };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function keys(o: Obj, at: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) throw new PlanError(at ? `${at}.${k}` : k, `unknown field; expected one of ${allowed.join(', ')}`);
}

function int(o: Obj, key: string, at: string, dflt: number | undefined, min: number, max: number): number {
  const v = o[key];
  if (v === undefined) {
    if (dflt === undefined) throw new PlanError(`${at}${key}`, 'is required');
    return dflt;
  }
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new PlanError(`${at}${key}`, `must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
  return v;
}

/** "2s", "500ms", "1m", or a number of ms. */
export function duration(v: unknown, field: string, dflt?: number): number {
  if (v === undefined && dflt !== undefined) return dflt;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string') {
    const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m)$/.exec(v.trim());
    if (m) return Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000));
  }
  throw new PlanError(field, `must be a duration such as 500ms, 2s or 1m, got ${v === undefined ? 'nothing' : JSON.stringify(v)}`);
}

/** Reads and checks a plan file. Throws PlanError (the message names the field). */
export function readPlan(file: string): Plan {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new PlanError('', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new PlanError('', `not YAML: ${(e as Error).message.split('\n')[0]}`);
  }
  return parsePlan(raw, file);
}

export function parsePlan(raw: unknown, file: string): Plan {
  if (!isObj(raw)) throw new PlanError('', 'a plan is a YAML mapping (name, seed, topology, workload, faults, limits)');
  keys(raw, '', ['name', 'description', 'seed', 'topology', 'workload', 'faults', 'limits']);
  const name = typeof raw.name === 'string' && raw.name !== '' ? raw.name : path.basename(file).replace(/\.ya?ml$/, '');
  const seed = int(raw, 'seed', '', 1, 0, 2 ** 32 - 1);

  const t = raw.topology;
  if (!isObj(t)) throw new PlanError('topology', 'is required: {scenario: FILE} or {generate: {...}}');
  keys(t, 'topology', ['scenario', 'generate']);
  let topology: Plan['topology'];
  if (t.scenario !== undefined && t.generate !== undefined) throw new PlanError('topology', 'give either scenario or generate, not both');
  if (typeof t.scenario === 'string') topology = { scenario: path.resolve(path.dirname(file), t.scenario) };
  else if (t.scenario !== undefined) throw new PlanError('topology.scenario', 'must be the path of a scenario file');
  else if (isObj(t.generate)) {
    const g = t.generate;
    keys(g, 'topology.generate', ['devices', 'files', 'pages', 'reflinked', 'faulted']);
    const devices = g.devices ?? ['pmem'];
    if (!Array.isArray(devices) || devices.length === 0 || devices.length > 8 || !devices.every((d) => (DEVICE_KINDS as readonly unknown[]).includes(d)))
      throw new PlanError('topology.generate.devices', `must be a list of 1 to 8 of ${DEVICE_KINDS.join(', ')}`);
    const files = int(g, 'files', 'topology.generate.', 8, 1, 2000);
    const pages = int(g, 'pages', 'topology.generate.', 4, 1, 256);
    const reflinked = int(g, 'reflinked', 'topology.generate.', 0, 0, Math.floor(files / 2));
    if (g.faulted !== undefined && typeof g.faulted !== 'boolean') throw new PlanError('topology.generate.faulted', 'must be true or false');
    topology = { generate: { devices: devices as DeviceKind[], files, pages, reflinked, faulted: g.faulted !== false } };
  } else throw new PlanError('topology', 'needs scenario: FILE or generate: {...}');

  const w = raw.workload ?? {};
  if (!isObj(w)) throw new PlanError('workload', 'must be a mapping');
  keys(w, 'workload', ['injections', 'inflight', 'kinds', 'multiPage', 'unbinds', 'accesses', 'interval', 'repeat']);
  if (w.repeat !== undefined && typeof w.repeat !== 'boolean') throw new PlanError('workload.repeat', 'must be true or false');
  const kinds = w.kinds ?? [...INJECTION_KINDS];
  if (!Array.isArray(kinds) || kinds.length === 0 || !kinds.every((k) => (INJECTION_KINDS as readonly unknown[]).includes(k)))
    throw new PlanError('workload.kinds', `must be a non-empty list of ${INJECTION_KINDS.join(', ')}`);
  const unbindsRaw = w.unbinds ?? [];
  if (!Array.isArray(unbindsRaw)) throw new PlanError('workload.unbinds', 'must be a list of {device, after, race?}');
  const unbinds = unbindsRaw.map((u: unknown, i): UnbindSpec => {
    const at = `workload.unbinds[${i}]`;
    if (!isObj(u)) throw new PlanError(at, 'must be {device, after, race?}');
    keys(u, at, ['device', 'after', 'race']);
    if (typeof u.device !== 'string' || u.device === '') throw new PlanError(`${at}.device`, 'must name a pmem or dm device of the topology');
    if (u.race !== undefined && typeof u.race !== 'boolean') throw new PlanError(`${at}.race`, 'must be true or false');
    return { device: u.device, after: int(u, 'after', `${at}.`, 0, 0, 1_000_000), race: u.race === true };
  });
  const workload: Plan['workload'] = {
    injections: int(w, 'injections', 'workload.', 20, 0, 1_000_000),
    inflight: int(w, 'inflight', 'workload.', 1, 1, 256),
    kinds: kinds as StormKind[],
    multiPage: int(w, 'multiPage', 'workload.', 0, 0, 100),
    unbinds,
    accesses: int(w, 'accesses', 'workload.', 0, 0, 100_000),
    intervalMs: duration(w.interval, 'workload.interval', 0),
    repeat: w.repeat === true,
  };

  const fr = raw.faults ?? [];
  if (!Array.isArray(fr)) throw new PlanError('faults', 'must be a list of {kind, target, at, for, ...}');
  const faults = fr.map((f: unknown, i): FaultSpec => {
    const at = `faults[${i}]`;
    if (!isObj(f)) throw new PlanError(at, 'must be {kind, target, at, for, ...}');
    if (typeof f.kind !== 'string') throw new PlanError(`${at}.kind`, `is required: one of ${FAULT_KINDS.map((k) => k.kind).join(', ')}`);
    const kind = faultKind(f.kind);
    if (!kind) throw new PlanError(`${at}.kind`, `unknown fault kind "${f.kind}"; known: ${FAULT_KINDS.map((k) => k.kind).join(', ')}`);
    if (typeof f.target !== 'string' || f.target === '') throw new PlanError(`${at}.target`, 'is required: a service, a replica, kafka, redis, postgres or an edge');
    const atMs = duration(f.at, `${at}.at`);
    const forMs = duration(f.for, `${at}.for`);
    const spec = kind.parse({ ...f, atMs, forMs }, at);
    return { ...spec, kind: f.kind, target: f.target, atMs, forMs };
  });
  // The same kind+target may not overlap itself (the history identifies a fault by kind+target).
  for (let i = 0; i < faults.length; i++)
    for (let j = 0; j < i; j++) {
      const a = faults[i]!;
      const b = faults[j]!;
      if (a.kind === b.kind && a.target === b.target && a.atMs < b.atMs + b.forMs + 1 && b.atMs < a.atMs + a.forMs + 1)
        throw new PlanError(`faults[${i}]`, `overlaps faults[${j}] (${b.kind} ${b.target}): one fault of a kind on a target at a time`);
    }

  const l = raw.limits ?? {};
  if (!isObj(l)) throw new PlanError('limits', 'must be a mapping');
  keys(l, 'limits', ['duration', 'callTimeout', 'resend', 'drain']);
  const limits = {
    durationMs: duration(l.duration, 'limits.duration', 300_000),
    callTimeoutMs: duration(l.callTimeout, 'limits.callTimeout', 60_000),
    resendMs: duration(l.resend, 'limits.resend', 3_000),
    drainMs: duration(l.drain, 'limits.drain', 60_000),
  };
  if (limits.durationMs < 1000) throw new PlanError('limits.duration', 'must be at least 1s');
  return { name, file, seed, topology, workload, faults, limits };
}

// ---------------------------------------------------------------------------------------------
// Topology generator

const PMEM_STRIDE = 0x400000000n; // 16 GiB
const hex = (n: bigint) => `"0x${n.toString(16)}"`;

/** A scenario YAML (topology only) the scenario parser accepts, from a generate spec and a seed. */
export function generateTopology(g: Omit<GenerateSpec, 'faulted'> & { faulted?: boolean }, seed: number, name: string): string {
  const prng = new Prng(seed);
  const lines: string[] = [`name: ${name}`, `description: generated by mfsim chaos run (seed ${seed})`, 'pmem:'];
  g.devices.forEach((_, i) => lines.push(`  - { name: pmem${i}, physAddr: ${hex(0x100000000n + BigInt(i) * PMEM_STRIDE)}, size: 16GiB, dataOffset: "0x10200000" }`));
  const dms = g.devices.map((d, i) => ({ d, i })).filter((x) => x.d !== 'pmem');
  if (dms.length > 0) {
    lines.push('dm:');
    for (const { d, i } of dms) {
      lines.push(`  - name: dm${i}`, `    mode: ${d === 'dm-proposal' ? 'proposal' : 'upstream'}`, '    table:', `      - { begin: 0, len: 8388608, type: linear, device: pmem${i}, start: 2048 }`);
    }
  }
  lines.push('filesystems:');
  const procs: string[] = [];
  g.devices.forEach((d, i) => {
    lines.push(`  - name: xfs${i}`, `    device: ${d === 'pmem' ? 'pmem' : 'dm'}${i}`, '    blockSize: 4096', '    agBlocks: 262144', '    reflink: true', '    files:');
    const stride = g.pages + 8;
    // The last `reflinked` files are copies of a (seeded) earlier one: same blocks.
    const own = g.files - g.reflinked;
    const blockOf: number[] = [];
    for (let f = 0; f < g.files; f++) {
      const src = f < own ? f : prng.int(0, own - 1);
      blockOf.push(f < own ? 4096 + f * stride : (blockOf[src] as number));
      lines.push(`      - { path: /f${f}, ino: ${1000 + f}, extents: [{ offset: 0, block: ${blockOf[f]}, count: ${g.pages} }] }`);
      const pid = 1000 + i * 10_000 + f;
      procs.push(`  - pid: ${pid}`, `    comm: chaos${i}_${f}`, '    mmaps:', `      - { fs: xfs${i}, path: /f${f}, start: "0x7f0000000000", pgoff: 0, pages: ${g.pages}, faulted: ${g.faulted === false ? '[]' : 'all'} }`);
    }
  });
  lines.push('processes:', ...procs);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Workload

/** One thing the runner does, in order. */
export type Step = { readonly kind: 'send'; readonly injection: string } | { readonly kind: 'barrier' };

export interface BuiltRun {
  /** The scenario the history names: the topology and one injection per operation. */
  readonly scenarioText: string;
  readonly scenario: Scenario;
  readonly steps: Step[];
}

/** The topology part of a scenario file: everything but its injections and expect. */
function topologyOf(text: string): string {
  const out: string[] = [];
  let skipping = false;
  for (const line of text.split('\n')) {
    if (/^(injections|expect)\s*:/.test(line)) {
      skipping = true;
      continue;
    }
    if (skipping && /^\S/.test(line)) skipping = false;
    if (!skipping) out.push(line);
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function shuffle<T>(xs: T[], prng: Prng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = prng.int(0, i);
    [xs[i], xs[j]] = [xs[j] as T, xs[i] as T];
  }
  return xs;
}

/** Builds the scenario and the steps of a plan; reproducible from its seed. */
export function buildRun(plan: Plan): BuiltRun {
  let topo: string;
  if ('scenario' in plan.topology) {
    try {
      topo = topologyOf(readFileSync(plan.topology.scenario, 'utf8'));
    } catch (e) {
      throw new PlanError('topology.scenario', `cannot read ${plan.topology.scenario}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  } else topo = generateTopology(plan.topology.generate, plan.seed, plan.name);
  // The pfn of every mapped page comes from a boot with every page faulted in (the same pfns
  // whether or not the run faults them in).
  const generated = 'generate' in plan.topology ? plan.topology.generate : undefined;
  if (generated && !generated.faulted) {
    const bad = plan.workload.kinds.filter((k) => k === 'madvise' || k === 'mce');
    if (bad.length > 0 || plan.workload.accesses > 0)
      throw new PlanError('workload.kinds', `${bad.length > 0 ? bad.join(', ') : 'accesses'} need pages faulted in; with topology.generate.faulted: false use corruptPfn and background only`);
  }
  const mapTopo = generated && !generated.faulted ? generateTopology({ ...generated, faulted: true }, plan.seed, plan.name) : topo;
  const bare = parseScenario(`${topo}injections: []\n`, plan.file);
  if (!bare.ok) {
    const i = bare.issues[0];
    throw new PlanError('topology', `the scenario is not valid: ${i ? `${i.path}: ${i.message}` : 'unknown problem'}`);
  }
  const devices = new Set([...bare.scenario.pmem.map((p) => p.name), ...bare.scenario.dm.map((d) => d.name)]);
  const mapping = mapTopo === topo ? bare : parseScenario(`${mapTopo}injections: []\n`, plan.file);
  if (!mapping.ok) throw new PlanError('topology', 'the generated topology is not valid');
  plan.workload.unbinds.forEach((u, i) => {
    if (!devices.has(u.device)) throw new PlanError(`workload.unbinds[${i}].device`, `no device ${u.device} in the topology (${[...devices].join(', ')})`);
  });
  // The booted machine: which pfn each process's page maps.
  const boot = runScenario(mapping.scenario, undefined, { trace: 'none' });
  const byPfn = new Map<bigint, { pid: number; addr: bigint }[]>();
  const mapped = new Map<string, bigint>(); // "pid addr" -> pfn
  for (const proc of bare.scenario.processes) {
    const table = boot.kernel.mm.pageTables.get(proc.pid);
    for (const m of proc.mmaps)
      for (let p = 0; p < m.pages; p++) {
        const addr = m.start + BigInt(p) * 4096n;
        const pte = table?.get(addr) as { pfn?: bigint } | undefined;
        if (pte?.pfn === undefined) continue;
        const pfn = pte.pfn;
        mapped.set(`${proc.pid} ${addr}`, pfn);
        const list = byPfn.get(pfn) ?? [];
        list.push({ pid: proc.pid, addr });
        byPfn.set(pfn, list);
      }
  }
  const prng = new Prng(plan.seed ^ 0x9e3779b9);
  const pfns = shuffle([...byPfn.keys()].sort((a, b) => (a < b ? -1 : 1)), prng);
  const used = new Set<bigint>();
  const injections: string[] = [];
  const steps: Step[] = [];
  const poisoned: { pid: number; addr: bigint }[] = [];
  let n = 0;
  const add = (yaml: string): void => {
    const id = `i${++n}`;
    injections.push(`  - { id: ${id}, ${yaml} }`);
    steps.push({ kind: 'send', injection: id });
  };
  const firstPid = bare.scenario.processes[0]?.pid ?? 1;
  const unbinds = [...plan.workload.unbinds].sort((a, b) => a.after - b.after);
  let storm = 0;
  let cursor = 0;
  let madvises = 0;
  const sendUnbinds = (upTo: number) => {
    while (unbinds.length > 0 && (unbinds[0] as UnbindSpec).after <= upTo) {
      const u = unbinds.shift() as UnbindSpec;
      if (!u.race) steps.push({ kind: 'barrier' });
      add(`unbind: { device: ${u.device}, pid: ${firstPid} }`);
      if (!u.race) steps.push({ kind: 'barrier' });
    }
  };
  // A scenario injects at most SCENARIO_LIMITS.injectedPages pages; the rest of a bigger storm
  // sends the same injections again (after a barrier: each page is poisoned before it is hit again).
  const pageBudget = SCENARIO_LIMITS.injectedPages - plan.workload.unbinds.length - plan.workload.accesses;
  let pagesUsed = 0;
  const stormIds: string[] = [];
  while (storm < plan.workload.injections) {
    sendUnbinds(storm);
    while (cursor < pfns.length && used.has(pfns[cursor] as bigint)) cursor++;
    if (cursor >= pfns.length || pagesUsed + 2 > pageBudget) break; // the storm is as big as the topology (and a scenario) allows
    const pfn = pfns[cursor] as bigint;
    used.add(pfn);
    const owners = byPfn.get(pfn) as { pid: number; addr: bigint }[];
    const who = prng.pick(owners);
    const kind = prng.pick(plan.workload.kinds);
    switch (kind) {
      case 'madvise': {
        const nextPfn = mapped.get(`${who.pid} ${who.addr + 4096n}`);
        // Every (100/multiPage)-th madvise covers two pages (when the next page is free).
        madvises++;
        const wantTwo = plan.workload.multiPage > 0 && Math.floor((madvises * plan.workload.multiPage) / 100) > Math.floor(((madvises - 1) * plan.workload.multiPage) / 100);
        const two = wantTwo && nextPfn !== undefined && !used.has(nextPfn);
        if (two) used.add(nextPfn);
        pagesUsed += two ? 2 : 1;
        add(`madvise: { pid: ${who.pid}, addr: ${hex(who.addr)}, pages: ${two ? 2 : 1} }`);
        poisoned.push(who);
        break;
      }
      case 'mce':
        add(`mce: { pid: ${who.pid}, pfn: ${hex(pfn)}, ripv: true }`);
        poisoned.push(who);
        break;
      default:
        add(`${kind}: { pfn: ${hex(pfn)} }`);
        poisoned.push(...owners);
    }
    if (kind !== 'madvise') pagesUsed++;
    stormIds.push(`i${n}`);
    storm++;
  }
  if (storm < plan.workload.injections && stormIds.length > 0 && plan.workload.repeat) {
    steps.push({ kind: 'barrier' });
    for (let k = 0; storm < plan.workload.injections; k++, storm++) {
      sendUnbinds(storm);
      steps.push({ kind: 'send', injection: stormIds[k % stormIds.length] as string });
      if ((k + 1) % stormIds.length === 0) steps.push({ kind: 'barrier' });
    }
  }
  sendUnbinds(Number.MAX_SAFE_INTEGER);
  if (plan.workload.accesses > 0 && poisoned.length > 0) {
    steps.push({ kind: 'barrier' });
    const seen = new Set<string>();
    const targets = shuffle(
      poisoned.filter((p) => !seen.has(`${p.pid} ${p.addr}`) && seen.add(`${p.pid} ${p.addr}`)),
      prng,
    ).slice(0, plan.workload.accesses);
    for (const p of targets) add(`access: { pid: ${p.pid}, addr: ${hex(p.addr)} }`);
  }
  const scenarioText = `${topo}injections:\n${injections.length > 0 ? injections.join('\n') : '  []'}\n`;
  const parsed = parseScenario(scenarioText, plan.file);
  if (!parsed.ok) {
    const i = parsed.issues[0];
    throw new PlanError('workload', `the generated scenario is not valid: ${i ? `${i.path}: ${i.message}` : 'unknown problem'}`);
  }
  return { scenarioText, scenario: parsed.scenario, steps };
}
