/**
 * Generated sections of the scenario format: a compact way to describe a big machine. A
 * filesystem's `generate:` block stands for N files of a given extent shape (a percentage
 * of them reflinked, seeded); a `processes` entry that is only `generate:` stands for M
 * processes mapping those files. They are expanded into the ordinary YAML structures
 * before any validation, so the generated files and processes are checked exactly like
 * written ones (issues name e.g. `filesystems[0].files[1234].extents[0]`).
 *
 *   filesystems:
 *     - name: xfs0
 *       ...
 *       generate: { files: 100000, extents: { count: 4, blocks: 16, gap: 0 }, firstBlock: 1024, reflinked: 10, seed: 7 }
 *   processes:
 *     - generate: { count: 1000, fs: xfs0, mapsPerProcess: 4, faulted: all, firstPid: 1000, seed: 7 }
 *
 * Linear in what it generates.
 */
import { Prng } from '@mfsim/kernel-model';

type YamlMap = Map<string, unknown>;
type Issue = (path: string, message: string) => void;

const FS_KEYS = ['files', 'extents', 'firstBlock', 'firstIno', 'path', 'reflinked', 'seed'] as const;
const EXTENT_KEYS = ['count', 'blocks', 'gap'] as const;
const PROC_KEYS = ['count', 'fs', 'mapsPerProcess', 'faulted', 'firstPid', 'comm', 'start', 'seed', 'mceKill'] as const;
const PMD_BYTES = 1n << 21n;

interface GeneratedFiles {
  /** Generated file paths and their sizes in pages. */
  readonly files: { path: string; pages: bigint }[];
}

function isMap(v: unknown): v is YamlMap {
  return v instanceof Map;
}

class Params {
  constructor(
    private readonly map: YamlMap,
    private readonly path: string,
    private readonly issue: Issue,
    keys: readonly string[],
  ) {
    for (const k of map.keys()) if (!keys.includes(k)) issue(`${path}.${k}`, `unknown key ${k} in generate (known: ${keys.join(', ')})`);
  }

  int(key: string, dflt: bigint | undefined, min: bigint, max: bigint): bigint | undefined {
    const v = this.map.get(key);
    if (v === undefined) {
      if (dflt === undefined) this.issue(`${this.path}.${key}`, `${key} is required`);
      return dflt;
    }
    if (typeof v !== 'bigint' || v < min || v > max) {
      this.issue(`${this.path}.${key}`, `expected an integer from ${min} to ${max}, got ${typeof v === 'bigint' ? v : JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  text(key: string, dflt: string): string | undefined {
    const v = this.map.get(key);
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || v.length === 0) {
      this.issue(`${this.path}.${key}`, `expected a text, got ${JSON.stringify(v)}`);
      return undefined;
    }
    return v;
  }

  sub(key: string, keys: readonly string[]): Params | undefined {
    const v = this.map.get(key);
    if (v === undefined) return new Params(new Map(), `${this.path}.${key}`, this.issue, keys);
    if (!isMap(v)) {
      this.issue(`${this.path}.${key}`, `expected a mapping (${keys.join(', ')})`);
      return undefined;
    }
    return new Params(v, `${this.path}.${key}`, this.issue, keys);
  }

  raw(key: string): unknown {
    return this.map.get(key);
  }
}

/** Expands one filesystem's `generate:` into files appended to its `files`. */
function expandFilesystem(fs: YamlMap, path: string, issue: Issue): GeneratedFiles | null {
  const g = fs.get('generate');
  fs.delete('generate');
  if (!isMap(g)) {
    issue(`${path}.generate`, 'expected a mapping (files, extents, firstBlock, firstIno, path, reflinked, seed)');
    return null;
  }
  const p = new Params(g, `${path}.generate`, issue, FS_KEYS);
  const n = p.int('files', undefined, 1n, 10_000_000n);
  const ext = p.sub('extents', EXTENT_KEYS);
  const count = ext?.int('count', 1n, 1n, 100_000n);
  const blocks = ext?.int('blocks', 1n, 1n, 1n << 31n);
  const gap = ext?.int('gap', 0n, 0n, 1n << 31n);
  const firstBlock = p.int('firstBlock', 1024n, 0n, 1n << 52n);
  const reflinked = p.int('reflinked', 0n, 0n, 100n);
  const seed = p.int('seed', 1n, 0n, 0xffff_ffffn);
  const prefix = p.text('path', '/gen/f');
  const files = Array.isArray(fs.get('files')) ? (fs.get('files') as unknown[]) : [];
  let maxIno = 999n;
  for (const f of files) if (isMap(f) && typeof f.get('ino') === 'bigint' && (f.get('ino') as bigint) > maxIno) maxIno = f.get('ino') as bigint;
  const firstIno = p.int('firstIno', maxIno + 1n, 1n, (1n << 63n) - 1n);
  const agBlocks = typeof fs.get('agBlocks') === 'bigint' ? (fs.get('agBlocks') as bigint) : 32768n;
  const blockSize = typeof fs.get('blockSize') === 'bigint' ? (fs.get('blockSize') as bigint) : 4096n;
  if ([n, count, blocks, gap, firstBlock, reflinked, seed, prefix, firstIno].some((x) => x === undefined)) return null;
  const rng = new Prng(Number(seed));
  const out: GeneratedFiles = { files: [] };
  const firstExtentOf: bigint[] = [];
  let next = firstBlock as bigint;
  const pagesPerFile = ((count as bigint) * (blocks as bigint) * blockSize + 4095n) / 4096n;
  for (let i = 0n; i < (n as bigint); i++) {
    const extents: YamlMap[] = [];
    const shareWith = i > 0n && rng.next() * 100 < Number(reflinked) ? rng.int(0, Number(i) - 1) : -1;
    for (let e = 0n; e < (count as bigint); e++) {
      let block: bigint;
      if (e === 0n && shareWith >= 0) {
        // A reflink copy of an earlier generated file's first extent.
        block = firstExtentOf[shareWith] as bigint;
      } else {
        // Extents never straddle an allocation group: skip to the next one.
        if (next % agBlocks + (blocks as bigint) > agBlocks) next += agBlocks - (next % agBlocks);
        block = next;
        next += (blocks as bigint) + (gap as bigint);
      }
      if (e === 0n) firstExtentOf.push(block);
      extents.push(new Map<string, unknown>([['offset', e * (blocks as bigint)], ['block', block], ['count', blocks]]));
    }
    const filePath = `${prefix}${i}`;
    files.push(new Map<string, unknown>([['path', filePath], ['ino', (firstIno as bigint) + i], ['extents', extents]]));
    out.files.push({ path: filePath, pages: pagesPerFile });
  }
  fs.set('files', files);
  return out;
}

/** Expands one `processes` entry `{ generate: … }` into processes mapping generated files. */
function expandProcesses(g: unknown, path: string, generated: Map<string, GeneratedFiles>, issue: Issue): YamlMap[] {
  if (!isMap(g)) {
    issue(path, `expected a mapping (${PROC_KEYS.join(', ')})`);
    return [];
  }
  const p = new Params(g, path, issue, PROC_KEYS);
  const count = p.int('count', undefined, 1n, 1_000_000n);
  const maps = p.int('mapsPerProcess', 1n, 1n, 10_000n);
  const firstPid = p.int('firstPid', 1000n, 1n, 4_194_304n);
  const seed = p.int('seed', 1n, 0n, 0xffff_ffffn);
  const start = p.int('start', 0x7f00_0000_0000n, 0n, 1n << 47n);
  const comm = p.text('comm', 'gen');
  const fsName = p.text('fs', '');
  const faulted = p.raw('faulted') ?? 'none';
  const mceKill = p.raw('mceKill');
  if (faulted !== 'all' && faulted !== 'none') issue(`${path}.faulted`, `expected all or none, got ${JSON.stringify(faulted)}`);
  const files = fsName ? generated.get(fsName) : undefined;
  if (fsName === '' || !files) issue(`${path}.fs`, `expected the name of a filesystem with a generate: section${fsName ? `, got ${fsName}` : ''}`);
  if ([count, maps, firstPid, seed, start, comm].some((x) => x === undefined) || !files || files.files.length === 0) return [];
  const rng = new Prng(Number(seed));
  const out: YamlMap[] = [];
  for (let i = 0n; i < (count as bigint); i++) {
    const mmaps: YamlMap[] = [];
    let addr = start as bigint;
    for (let m = 0n; m < (maps as bigint); m++) {
      const f = files.files[rng.int(0, files.files.length - 1)] as { path: string; pages: bigint };
      mmaps.push(new Map<string, unknown>([['fs', fsName], ['path', f.path], ['start', addr], ['pgoff', 0n], ['pages', f.pages], ['faulted', faulted]]));
      // The next mapping starts at the next 2 MiB boundary after this one.
      addr += (((f.pages << 12n) + PMD_BYTES - 1n) / PMD_BYTES) * PMD_BYTES;
    }
    const proc = new Map<string, unknown>([['pid', (firstPid as bigint) + i], ['comm', `${comm}${i}`], ['mmaps', mmaps]]);
    if (mceKill !== undefined) proc.set('mceKill', mceKill);
    out.push(proc);
  }
  return out;
}

/**
 * Replaces every generated section of a normalized YAML document by what it stands for.
 * Issues go through `issue` with the path of the offending field.
 */
export function expandGenerated(root: YamlMap, issue: Issue): void {
  const generated = new Map<string, GeneratedFiles>();
  const filesystems = root.get('filesystems');
  if (Array.isArray(filesystems)) {
    filesystems.forEach((fs, i) => {
      if (!isMap(fs) || !fs.has('generate')) return;
      const got = expandFilesystem(fs, `filesystems[${i}]`, issue);
      if (got && typeof fs.get('name') === 'string') generated.set(fs.get('name') as string, got);
    });
  }
  const processes = root.get('processes');
  if (Array.isArray(processes) && processes.some((p) => isMap(p) && p.has('generate'))) {
    const expanded: unknown[] = [];
    processes.forEach((p, i) => {
      if (isMap(p) && p.has('generate')) {
        if (p.size > 1) issue(`processes[${i}]`, 'a generated processes entry holds only generate:');
        expanded.push(...expandProcesses(p.get('generate'), `processes[${i}].generate`, generated, issue));
      } else expanded.push(p);
    });
    root.set('processes', expanded);
  }
}
