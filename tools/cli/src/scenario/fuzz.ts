/**
 * A seeded mutation fuzzer of scenario files (`npm run fuzz`, issue 7): it takes the shipped
 * files as seeds, mutates them (values, keys, lists, the YAML text itself), runs each mutant as a
 * user would — `mfsim scenario run --json FILE` in a child process — and classifies the result.
 *
 * Acceptable: exit 0 (passes), 1 (a mismatch) or 2 (refused), without a stack trace. A failure:
 * a stack trace on stderr, any other exit code or a signal (a heap exhausted under the memory
 * cap is exit 134), or no end before the hang timeout. The same seed gives the same cases.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';

import { scenarioYamlToPlain } from '@mfsim/scenario';

export interface FuzzOptions {
  /** Repo root: the seeds are its scenarios/, the command its tools/cli/bin/mfsim.js. */
  root: string;
  seed: number;
  cases: number;
  /** Children at once. */
  concurrency: number;
  /** A case still running after this long is a hang. */
  hangMs: number;
  /** --max-old-space-size of each child, in MB. */
  heapMb: number;
  /** Where failing cases are written (created when one fails). */
  outDir: string;
  log?: (line: string) => void;
}

export type Verdict = 'pass' | 'mismatch' | 'refused' | 'stack-trace' | 'bad-exit' | 'hang';

export interface CaseResult {
  index: number;
  seedFile: string;
  mutation: string;
  verdict: Verdict;
  code: number | null;
  signal: string | null;
  ms: number;
  /** The first lines of stderr, for a failure. */
  detail: string;
  /** The mutant's text. */
  text: string;
}

export interface FuzzReport {
  seed: number;
  results: CaseResult[];
  counts: Record<Verdict, number>;
  failures: CaseResult[];
  /** Cases that ended acceptably but took longer than 5 s. */
  slow: CaseResult[];
}

export const FAILURES: readonly Verdict[] = ['stack-trace', 'bad-exit', 'hang'];

/** mulberry32: a small, fast, seedable generator. */
export function randomSource(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

class Mutator {
  constructor(private readonly random: () => number) {}

  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** Values that broke something once, or sit on a limit. */
  interesting(): Json {
    return this.pick<Json>([
      0, 1, -1, 2, 7, 511, 512, 4095, 4096, 4097, 65536, 2 ** 20, 2 ** 20 + 1, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1,
      '0x', '0x0', '0xffffffffffffffff', '0x10000000000000000', '0x7fffffffffff', '0x800000000000', '16GB', '3PiB', '4TiB', '1e3', '-0x10',
      '', ' ', '__proto__', 'constructor', 'toString', 'none', 'all', 'PANIC', 'EIO', 'BUS_MCEERR_AR', 'x'.repeat(5000),
      null, true, false, [], {}, [[[[[[[[]]]]]]]], { __proto__: 1 } as unknown as Json, 1.5, 1e308,
    ]);
  }

  /** Every (container, key) in the document, for a random pick. */
  private slots(doc: Json): { parent: Json[] | { [key: string]: Json }; key: string | number }[] {
    const out: { parent: Json[] | { [key: string]: Json }; key: string | number }[] = [];
    const walk = (node: Json): void => {
      if (Array.isArray(node)) node.forEach((child, i) => (out.push({ parent: node, key: i }), walk(child)));
      else if (node !== null && typeof node === 'object')
        for (const key of Object.keys(node)) {
          out.push({ parent: node, key });
          walk(node[key]!);
        }
    };
    walk(doc);
    return out;
  }

  /** One structural mutation of `doc`, in place; returns its description. */
  mutateData(doc: Json): string {
    const slots = this.slots(doc);
    if (slots.length === 0) return 'nothing to mutate';
    const slot = this.pick(slots);
    const parent = slot.parent as Record<string | number, Json>;
    const where = String(slot.key);
    switch (this.int(8)) {
      case 0: {
        const value = this.interesting();
        parent[slot.key] = value;
        return `set ${where} = ${JSON.stringify(value)?.slice(0, 40)}`;
      }
      case 1:
        if (Array.isArray(slot.parent)) slot.parent.splice(slot.key as number, 1);
        else delete parent[slot.key];
        return `delete ${where}`;
      case 2: {
        // Repeat a list entry many times (ids and names repeat too: duplicates are errors).
        const list = Array.isArray(slot.parent) ? slot.parent : undefined;
        if (list === undefined) return 'no list';
        const times = this.pick([2, 10, 1000, 5000]);
        const item = list[slot.key as number]!;
        for (let k = 0; k < times; k++) list.push(JSON.parse(JSON.stringify(item)) as Json);
        return `repeat ${where} ×${times}`;
      }
      case 3: {
        if (Array.isArray(slot.parent)) return 'not a key';
        const renamed = this.pick([`${where}s`, where.slice(0, -1), where.toUpperCase(), '__proto__', 'constructor', `${where}_`]);
        parent[renamed] = parent[slot.key]!;
        delete parent[slot.key];
        return `rename ${where} → ${renamed}`;
      }
      case 4: {
        const other = this.pick(slots);
        parent[slot.key] = JSON.parse(JSON.stringify((other.parent as Record<string | number, Json>)[other.key] ?? null)) as Json;
        return `copy ${String(other.key)} into ${where}`;
      }
      case 5: {
        const value = parent[slot.key];
        if (typeof value === 'number') parent[slot.key] = this.pick([value * 2 ** 20, value + 1, value - 1, -value, value * 4096]);
        else if (typeof value === 'string' && /^(0x)?[0-9a-f]+$/i.test(value)) parent[slot.key] = `${value}${this.pick(['0', 'f', '000', 'GiB'])}`;
        else parent[slot.key] = this.interesting();
        return `stretch ${where}`;
      }
      case 6:
        parent[slot.key] = this.pick<Json>([[parent[slot.key]!], { x: parent[slot.key]! }, String(JSON.stringify(parent[slot.key]))]);
        return `wrap ${where}`;
      default: {
        const value = this.interesting();
        if (Array.isArray(slot.parent)) slot.parent.push(value);
        else parent[this.pick(['id', 'name', 'pid', 'pages', 'agCount', 'faulted', 'signals', 'x'])] = value;
        return `add ${JSON.stringify(value)?.slice(0, 40)} beside ${where}`;
      }
    }
  }

  /** One mutation of the YAML text itself. */
  mutateText(text: string): { text: string; mutation: string } {
    const at = this.int(text.length + 1);
    switch (this.int(6)) {
      case 0:
        return { text: text.slice(0, at), mutation: `truncate at ${at}` };
      case 1: {
        const depth = this.pick([40, 1000, 10000]);
        return { text: `${text}\nx: ${'['.repeat(depth)}${']'.repeat(depth)}\n`, mutation: `nest ${depth} deep` };
      }
      case 2:
        return { text: text.replace(/: (\S)/, ': !nonsense $1'), mutation: 'unknown tag' };
      case 3:
        return { text: text.slice(0, at) + this.pick(['\0', '\t', '"', "'", '{', ']', ':', '&a', '*a', '<<: *a', '%YAML 1.1\n', '---\n', '\ufeff']) + text.slice(at), mutation: `insert at ${at}` };
      case 4: {
        const lines = text.split('\n');
        const line = this.int(lines.length);
        lines.splice(line, 0, lines[line] ?? '');
        return { text: lines.join('\n'), mutation: `duplicate line ${line + 1}` };
      }
      default:
        return { text: `a: &a [1,2,3]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c]\n${text}`, mutation: 'alias expansion' };
    }
  }
}

/** The shipped scenario files, valid and invalid, as seeds. */
export function seedFiles(root: string): string[] {
  const walk = (dir: string): string[] =>
    readdirSync(dir)
      .sort()
      .flatMap((name) => {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) return name === 'chaos' ? [] : walk(path); // chaos/: plans, not scenarios
        return /\.ya?ml$/.test(name) ? [path] : [];
      });
  return walk(join(root, 'scenarios'));
}

/** Builds case `index` of a run: the same (seed, index) always gives the same mutant. */
export function makeCase(seeds: string[], seed: number, index: number): { seedFile: string; text: string; mutation: string } {
  const random = randomSource((seed * 1_000_003 + index) >>> 0);
  const m = new Mutator(random);
  const seedFile = m.pick(seeds);
  const original = readFileSync(seedFile, 'utf8');
  if (random() < 0.25) {
    const { text, mutation } = m.mutateText(original);
    return { seedFile, text, mutation };
  }
  let doc: Json;
  try {
    doc = scenarioYamlToPlain(original) as Json;
  } catch {
    return { seedFile, text: original, mutation: 'unparsable seed, as is' };
  }
  const steps = 1 + m.int(3);
  const mutations: string[] = [];
  for (let k = 0; k < steps; k++) mutations.push(m.mutateData(doc));
  // JSON is YAML: the mutant keeps every value exactly as mutated.
  return { seedFile, text: `${JSON.stringify(doc, null, 1)}\n`, mutation: mutations.join('; ') };
}

/** A V8 stack frame on stderr: what no user of the CLI should ever see. */
const STACK_FRAME = /^\s+at .+(\(.+:\d+:\d+\)|:\d+:\d+)$/m;

export function classify(code: number | null, stderr: string, hung: boolean): Verdict {
  if (hung) return 'hang';
  if (STACK_FRAME.test(stderr)) return 'stack-trace';
  if (code === 0) return 'pass';
  if (code === 1) return 'mismatch';
  if (code === 2) return 'refused';
  return 'bad-exit';
}

function runCase(opts: FuzzOptions, file: string): Promise<{ code: number | null; signal: string | null; stderr: string; hung: boolean; ms: number }> {
  return new Promise((done) => {
    const started = Date.now();
    const child = spawn(process.execPath, [`--max-old-space-size=${opts.heapMb}`, join(opts.root, 'tools/cli/bin/mfsim.js'), 'scenario', 'run', '--json', file], {
      cwd: opts.root,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      if (stderr.length < 64 * 1024) stderr += chunk;
    });
    let hung = false;
    const timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
    }, opts.hangMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code, signal, stderr, hung, ms: Date.now() - started });
    });
  });
}

/** Runs `opts.cases` cases, `opts.concurrency` at a time; failing mutants are kept in outDir. */
export async function fuzzScenarios(opts: FuzzOptions): Promise<FuzzReport> {
  const seeds = seedFiles(opts.root);
  const work = join(opts.outDir, `seed-${opts.seed}`);
  mkdirSync(work, { recursive: true });
  const results: CaseResult[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < opts.cases) {
      const index = next++;
      const c = makeCase(seeds, opts.seed, index);
      const file = join(work, `case-${index}.yaml`);
      writeFileSync(file, c.text);
      const r = await runCase(opts, file);
      const verdict = classify(r.code, r.stderr, r.hung);
      const result: CaseResult = {
        index,
        seedFile: relative(opts.root, c.seedFile),
        mutation: c.mutation,
        verdict,
        code: r.code,
        signal: r.signal,
        ms: r.ms,
        detail: FAILURES.includes(verdict) ? r.stderr.split('\n').slice(0, 12).join('\n') : '',
        text: c.text,
      };
      results.push(result);
      if (FAILURES.includes(verdict)) opts.log?.(`case ${index} (${result.seedFile}: ${c.mutation}): ${verdict} — kept as ${file}`);
      else rmSync(file, { force: true });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  results.sort((a, b) => a.index - b.index);
  const counts = { pass: 0, mismatch: 0, refused: 0, 'stack-trace': 0, 'bad-exit': 0, hang: 0 } as Record<Verdict, number>;
  for (const r of results) counts[r.verdict]++;
  return {
    seed: opts.seed,
    results,
    counts,
    failures: results.filter((r) => FAILURES.includes(r.verdict)),
    slow: results.filter((r) => !FAILURES.includes(r.verdict) && r.ms > 5000),
  };
}
