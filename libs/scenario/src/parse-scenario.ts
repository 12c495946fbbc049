/**
 * Parses and validates one scenario file (docs/scenario-format.md) into the
 * Scenario of scenario.types.ts, with every documented default applied.
 *
 * Pure: no fs, no clock. Every problem becomes a ScenarioIssue naming the file, the field path
 * (`filesystems[0].files[1].extents[0]`, `injections[0].madvise.addr`) and what is wrong; all
 * of them are collected, not only the first. A field that fails its own check is left out of
 * the cross-field checks that depend on it, so one typo gives one issue, not a cascade.
 *
 * Path rules: a problem with one field names that field (`pmem[0].physAddr`); a block or
 * sector range that does not fit or overlaps names the range entry (`pmem[0].partitions[1]`,
 * `dm[0].table[0]`, `filesystems[0].files[1].extents[0]`); a virtual-address range names its
 * `start` or `addr` field; a key of a mapping names the key (`expect.injections.i9`).
 */
import { LineCounter, parseDocument } from 'yaml';
import { expandGenerated } from './generate';

import type {
  BlockRange,
  DmSpec,
  DmTargetSpec,
  ErrnoName,
  ExpectedSignal,
  ExpectSpec,
  ExpectedRc,
  ExtentSpec,
  FileSpec,
  FilesystemSpec,
  InjectionSpec,
  MfResultName,
  MmapSpec,
  PmemSpec,
  ProcessSpec,
  Scenario,
  ScenarioIssue,
  ShutdownName,
  SiCodeName,
  SignalName,
  SpecialOwner,
} from './scenario.types';
import {
  describeValue,
  formatHex,
  type IntegerOptions,
  PAGE_SIZE,
  PAGES_PER_PMD,
  parseInteger,
  PMD_SIZE,
  SECTOR_SIZE,
  USER_SPACE_END,
} from './scenario-values';

export type ParseScenarioResult = { ok: true; scenario: Scenario } | { ok: false; issues: ScenarioIssue[] };

// ---------------------------------------------------------------------------------------------
// Vocabulary

export const ERRNO_NAMES: readonly ErrnoName[] = [
  'EPERM',
  'EIO',
  'ENXIO',
  'ENOMEM',
  'EFAULT',
  'EBUSY',
  'ENODEV',
  'EINVAL',
  'ERANGE',
  'ENODATA',
  'EOPNOTSUPP',
  'EUCLEAN',
  'EHWPOISON',
];
/** Errno spellings a file may use for another name: XFS calls EUCLEAN EFSCORRUPTED. */
export const ERRNO_ALIASES: Readonly<Record<string, ErrnoName>> = { EFSCORRUPTED: 'EUCLEAN' };

export const SPECIAL_OWNERS: readonly SpecialOwner[] = [
  'OWN_NULL',
  'OWN_UNKNOWN',
  'OWN_FS',
  'OWN_LOG',
  'OWN_AG',
  'OWN_INOBT',
  'OWN_INODES',
  'OWN_REFC',
  'OWN_COW',
];
export const SIGNAL_NAMES: readonly SignalName[] = ['SIGBUS', 'SIGKILL'];
export const SI_CODES: readonly SiCodeName[] = ['BUS_MCEERR_AR', 'BUS_MCEERR_AO', 'BUS_ADRERR', 'SI_KERNEL'];
export const SHUTDOWN_NAMES: readonly ShutdownName[] = [
  'none',
  'SHUTDOWN_META_IO_ERROR',
  'SHUTDOWN_LOG_IO_ERROR',
  'SHUTDOWN_FORCE_UMOUNT',
  'SHUTDOWN_CORRUPT_INCORE',
  'SHUTDOWN_CORRUPT_ONDISK',
  'SHUTDOWN_DEVICE_REMOVED',
];
export const MF_RESULTS: readonly MfResultName[] = ['Ignored', 'Failed', 'Delayed', 'Recovered'];
/** si_addr_lsb of a BUS_MCEERR_* signal: PAGE_SHIFT, PMD_SHIFT or PUD_SHIFT. */
export const SIGNAL_LSBS: readonly number[] = [12, 21, 30];
export const INJECTION_KINDS = ['madvise', 'corruptPfn', 'mce', 'background', 'unbind', 'access'] as const;
type InjectionKind = (typeof INJECTION_KINDS)[number];

/** PID_MAX_LIMIT on 64-bit kernels. */
const PID_MAX = 4_194_304n;
/** TASK_COMM_LEN − 1: the kernel keeps 15 bytes of a task's name. */
const COMM_MAX_BYTES = 15;
/**
 * The outcome lists every page of every mapping, so one mapping is capped at 2^20 pages
 * (4 GiB); larger ones would only make the outcome unreadable.
 */
const MAX_MMAP_PAGES = 1n << 20n;
/**
 * Limits on the whole file, so that whatever `check` accepts, `run` finishes within about 5 s
 * and 500 MB (measured: a mapped page costs about 0.6 KB of outcome, a faulted page 4 KB of
 * set-up trace, an injected page 20 KB of trace, signals and log lines):
 *  - pages mapped by all processes together (the outcome lists each one): 2^17 (512 MiB);
 *  - pages faulted in at set-up, over all mappings: 2^15;
 *  - pages injected, over all injections (madvise pages, one per corruptPfn/mce/background/access): 2^13;
 *  - allocation groups of one filesystem (the model keeps an rmap list per group): 2^20.
 */
export const SCENARIO_LIMITS = {
  mappedPages: 1 << 17,
  faultedPages: 1 << 15,
  injectedPages: 1 << 13,
  agCount: 1 << 20,
} as const;
/** pfn × 4096 must fit in 64 bits. */
const PFN_MAX = (1n << 52n) - 1n;
/** XFS agblocks and agcount are 32-bit. */
const U32_MAX = 0xffff_ffffn;
/** ext4 blocks per group with 4 KiB blocks; the `agBlocks` default for ext4. */
const EXT4_BLOCKS_PER_GROUP = 32768n;

const TOP_KEYS = [
  'name',
  'description',
  'sysctl',
  'hwpoisonFilter',
  'unbindStrategy',
  'pmem',
  'dm',
  'filesystems',
  'processes',
  'injections',
  'expect',
] as const;

// ---------------------------------------------------------------------------------------------
// Paths

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

function keyPath(base: string, key: string): string {
  if (!PLAIN_KEY.test(key)) return `${base}[${JSON.stringify(key)}]`;
  return base === '' ? key : `${base}.${key}`;
}

function indexPath(base: string, index: number): string {
  return `${base}[${index}]`;
}

// ---------------------------------------------------------------------------------------------
// Reading values

type YamlMap = Map<string, unknown>;
/** How a field behaves when it is absent (or written as an empty value). */
type Presence<T> = { required: true } | { default: T } | { optional: true };
const REQUIRED = { required: true } as const;
const OPTIONAL = { optional: true } as const;

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(above + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/**
 * The allowed name closest to `key`, if it is close: at most one edit for a short key, two for a
 * key of six or more characters (so `cod` suggests `code`, never `pid`); ties go to the first.
 */
function closestName(key: string, allowed: readonly string[]): string | undefined {
  const lower = key.toLowerCase();
  const limit = lower.length >= 6 ? 2 : 1;
  let best: { name: string; distance: number } | undefined;
  for (const candidate of allowed) {
    const distance = candidate.toLowerCase() === lower ? 0 : editDistance(candidate.toLowerCase(), lower);
    if (distance <= limit && (best === undefined || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const near = key.length > 64 ? undefined : closestName(key, allowed);
  const hint = near === undefined ? '' : ` (did you mean '${near}'?)`;
  return `unknown key '${key}'${hint}; expected one of: ${allowed.join(', ')}`;
}

function oneOfText(values: readonly string[]): string {
  return values.length === 1 ? values[0]! : `one of ${values.join(', ')}`;
}

/** Collects issues and reads typed values at a path; each reader returns undefined on error. */
class Reader {
  readonly issues: ScenarioIssue[] = [];

  constructor(readonly file: string) {}

  issue(path: string, message: string): void {
    this.issues.push({ file: this.file, path, message });
  }

  mapping(value: unknown, path: string, keys: readonly string[]): Fields | undefined {
    if (!(value instanceof Map)) {
      this.issue(path, `expected a mapping, got ${describeValue(value)}`);
      return undefined;
    }
    const map = value as YamlMap;
    for (const key of map.keys()) {
      if (!keys.includes(key)) this.issue(keyPath(path, key), unknownKeyMessage(key, keys));
    }
    return new Fields(this, path, map);
  }

  list(value: unknown, path: string): unknown[] | undefined {
    if (!Array.isArray(value)) {
      this.issue(path, `expected a list, got ${describeValue(value)}`);
      return undefined;
    }
    return value;
  }

  string(value: unknown, path: string): string | undefined {
    if (typeof value === 'string') return value;
    const hint =
      typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean'
        ? ' (quote it to use it as text)'
        : '';
    this.issue(path, `expected a string, got ${describeValue(value)}${hint}`);
    return undefined;
  }

  text(value: unknown, path: string): string | undefined {
    const text = this.string(value, path);
    if (text === undefined) return undefined;
    if (text.trim() === '') {
      this.issue(path, 'must not be empty');
      return undefined;
    }
    return text;
  }

  /** A device, filesystem or injection name: no whitespace, not the reserved word `none`. */
  name(value: unknown, path: string): string | undefined {
    const text = this.text(value, path);
    if (text === undefined) return undefined;
    if (/\s/.test(text)) {
      this.issue(path, `must not contain whitespace, got ${JSON.stringify(text)}`);
      return undefined;
    }
    return text;
  }

  boolean(value: unknown, path: string): boolean | undefined {
    if (typeof value === 'boolean') return value;
    this.issue(path, `expected true or false, got ${describeValue(value)}`);
    return undefined;
  }

  oneOf<T extends string>(values: readonly T[]): (value: unknown, path: string) => T | undefined {
    return (value, path) => {
      if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
      this.issue(path, `expected ${oneOfText(values)}, got ${describeValue(value)}`);
      return undefined;
    };
  }

  integer(options: IntegerOptions = {}): (value: unknown, path: string) => bigint | undefined {
    return (value, path) => {
      const result = parseInteger(value, options);
      if (result.ok) return result.value;
      this.issue(path, result.message);
      return undefined;
    };
  }

  /** An integer held as a JS number (counts, pids): within the safe range by construction. */
  count(options: IntegerOptions = {}): (value: unknown, path: string) => number | undefined {
    const read = this.integer({ max: BigInt(Number.MAX_SAFE_INTEGER), ...options });
    return (value, path) => {
      const result = read(value, path);
      return result === undefined ? undefined : Number(result);
    };
  }

  /** An injection's expected result: 0, an errno name, or PANIC (vm.memory_failure_recovery = 0). */
  rc(value: unknown, path: string): ExpectedRc | undefined {
    if (value === 0n || value === 0 || value === '0') return 0;
    if (value === 'PANIC') return 'PANIC';
    const errno = this.errnoName(value);
    if (errno !== undefined) return errno;
    this.issue(path, `expected 0, an errno name (${ERRNO_NAMES.join(', ')}) or PANIC, got ${describeValue(value)}`);
    return undefined;
  }

  errno(value: unknown, path: string): ErrnoName | undefined {
    const errno = this.errnoName(value);
    if (errno !== undefined) return errno;
    this.issue(path, `expected an errno name (${ERRNO_NAMES.join(', ')}), got ${describeValue(value)}`);
    return undefined;
  }

  private errnoName(value: unknown): ErrnoName | undefined {
    if (typeof value !== 'string') return undefined;
    if ((ERRNO_NAMES as readonly string[]).includes(value)) return value as ErrnoName;
    return ERRNO_ALIASES[value];
  }

  /** Reads a list field's entries with `read`; an absent list is empty. */
  entries<T>(fields: Fields, key: string, read: (value: unknown, path: string) => T): T[] {
    if (!fields.has(key)) return [];
    const path = fields.at(key);
    const items = this.list(fields.get(key), path) ?? [];
    return items.map((item, index) => read(item, indexPath(path, index)));
  }
}

/** One YAML mapping being read; knows its path. */
class Fields {
  constructor(
    readonly reader: Reader,
    readonly path: string,
    readonly map: YamlMap,
  ) {}

  at(key: string): string {
    return keyPath(this.path, key);
  }

  /** Present with a value: a key written with an empty value (`key:`) counts as absent. */
  has(key: string): boolean {
    const value = this.map.get(key);
    return value !== undefined && value !== null;
  }

  get(key: string): unknown {
    return this.map.get(key);
  }

  take<T>(
    key: string,
    presence: Presence<T>,
    read: (value: unknown, path: string) => T | undefined,
  ): T | undefined {
    if (!this.has(key)) {
      if ('default' in presence) return presence.default;
      if ('required' in presence) this.reader.issue(this.at(key), `required field '${key}' is missing`);
      return undefined;
    }
    return read(this.map.get(key), this.at(key));
  }

  mapping(key: string, keys: readonly string[]): Fields | undefined {
    return this.has(key) ? this.reader.mapping(this.map.get(key), this.at(key), keys) : undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// YAML

/**
 * Turns the yaml package's output (mapAsMap) into Maps with string keys; a key that is itself
 * a list or a mapping is an issue.
 */
function normalizeYaml(r: Reader, value: unknown, path: string, depth = 0): unknown {
  if ((Array.isArray(value) || value instanceof Map) && depth >= MAX_YAML_DEPTH) {
    r.issue(path, `nested too deeply: more than ${MAX_YAML_DEPTH} levels of lists and mappings (a scenario needs about 6)`);
    return undefined;
  }
  if (Array.isArray(value)) return value.map((item, index) => normalizeYaml(r, item, indexPath(path, index), depth + 1));
  if (!(value instanceof Map)) return value;
  const map: YamlMap = new Map();
  for (const [rawKey, item] of value as Map<unknown, unknown>) {
    if (rawKey !== null && typeof rawKey === 'object') {
      r.issue(path, `a mapping key must be a plain word, got ${describeValue(rawKey)}`);
      continue;
    }
    const key = String(rawKey);
    map.set(key, normalizeYaml(r, item, keyPath(path, key), depth + 1));
  }
  return map;
}

/** Lists and mappings inside one another; the format itself needs about 6. */
const MAX_YAML_DEPTH = 32;

function isStackOverflow(error: unknown): boolean {
  return error instanceof RangeError && /call stack/i.test(error.message);
}

const NESTED_TOO_DEEPLY = `the YAML is nested too deeply (a scenario needs about 6 levels of lists and mappings; more than ${MAX_YAML_DEPTH} are refused)`;

function readYaml(r: Reader, text: string): unknown {
  try {
    return readYamlDocument(r, text);
  } catch (error) {
    if (!isStackOverflow(error)) throw error;
    r.issue('', NESTED_TOO_DEEPLY);
    return undefined;
  }
}

function readYamlDocument(r: Reader, text: string): unknown {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    intAsBigInt: true,
    merge: true,
    prettyErrors: false,
    uniqueKeys: true,
    // Only the YAML 1.2 core tags (!!str, !!int, !!map, …); !!binary, !!set, !!timestamp are unknown here.
    resolveKnownTags: false,
    lineCounter,
  });
  if (doc.errors.length > 0) {
    for (const error of doc.errors) {
      const { line, col } = lineCounter.linePos(error.pos[0]);
      if (/call stack/i.test(error.message)) r.issue('', `${NESTED_TOO_DEEPLY}; at line ${line}, column ${col}`);
      else r.issue('', `YAML syntax error at line ${line}, column ${col}: ${error.message}`);
    }
    return undefined;
  }
  // The yaml package only warns about a tag it does not know (and then ignores it): refuse it
  // (scenario files need no tags; the YAML 1.2 core ones such as !!str are accepted).
  const unknownTags = doc.warnings.filter((warning) => warning.code === 'TAG_RESOLVE_FAILED');
  if (unknownTags.length > 0) {
    for (const warning of unknownTags) {
      const { line, col } = lineCounter.linePos(warning.pos[0]);
      const tag = /Unresolved tag: (\S+)/.exec(warning.message)?.[1] ?? 'a tag';
      r.issue('', `unknown YAML tag ${tag} at line ${line}, column ${col}; scenario files take only the YAML core tags (!!str, !!int, …)`);
    }
    return undefined;
  }
  let root: unknown;
  try {
    root = doc.toJS({ mapAsMap: true, maxAliasCount: 1000 });
  } catch (error) {
    r.issue('', `YAML error: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
  if (root === null || root === undefined) {
    r.issue('', 'the file is empty; a scenario needs at least a name');
    return undefined;
  }
  return normalizeYaml(r, root, '');
}

// ---------------------------------------------------------------------------------------------
// Topology: pmem namespaces, partitions, dm devices

interface DeviceInfo {
  kind: 'pmem' | 'partition' | 'dm';
  /** Path of the device's entry, e.g. `pmem[0].partitions[1]`. */
  entry: string;
  /** Usable size in bytes, when known. */
  bytes: bigint | undefined;
  /** The pmem namespaces the device sits on (itself for a namespace). */
  pmems: Set<string>;
}

/**
 * The names one section declares. `complete` turns false when an entry's own name (or pid, or
 * id) was invalid: a name that is not found may then be that entry's, so "no such name" is not
 * reported on top of the issue already raised.
 */
class Index<K, T> {
  private readonly entries = new Map<K, T>();
  complete = true;

  get(key: K): T | undefined {
    return this.entries.get(key);
  }

  set(key: K, value: T): void {
    this.entries.set(key, value);
  }

  /** True when `key` is certainly not declared. */
  lacks(key: K): boolean {
    return this.complete && !this.entries.has(key);
  }
}

type Devices = Index<string, DeviceInfo>;

const KIND_TEXT: Record<DeviceInfo['kind'], string> = {
  pmem: 'a pmem namespace',
  partition: 'a partition',
  dm: 'a dm device',
};

interface PmemDraft {
  entry: string;
  name?: string | undefined;
  physAddr?: bigint | undefined;
  size?: bigint | undefined;
  dataOffset?: bigint | undefined;
  pfnPad?: bigint | undefined;
  mode?: PmemSpec['mode'] | undefined;
  badblocks: { entry: string; sector?: bigint | undefined; count?: bigint | undefined }[];
  partitions: {
    entry: string;
    name?: string | undefined;
    start?: bigint | undefined;
    sectors?: bigint | undefined;
  }[];
}

interface DmDraft {
  entry: string;
  name?: string | undefined;
  mode?: DmSpec['mode'] | undefined;
  table: ({ entry: string } & Partial<DmTargetSpec>)[];
}

function sectorText(first: bigint, count: bigint): string {
  return `sectors ${first}..${first + count - 1n}`;
}

function blockText(first: bigint, count: bigint): string {
  return `blocks ${first}..${first + count - 1n}`;
}

function addressText(start: bigint, end: bigint): string {
  return `${formatHex(start)}..${formatHex(end - 1n)}`;
}

/** Registers a device name; names are unique across namespaces, partitions and dm devices. */
function claimDeviceName(
  r: Reader,
  devices: Devices,
  name: string | undefined,
  path: string,
  info: DeviceInfo,
): void {
  if (name === undefined) {
    devices.complete = false;
    return;
  }
  if (name === 'none') {
    r.issue(path, "'none' is reserved (it means no holder); choose another name");
    return;
  }
  const earlier = devices.get(name);
  if (earlier !== undefined) {
    r.issue(path, `name '${name}' is already used by ${KIND_TEXT[earlier.kind]} (${earlier.entry})`);
    return;
  }
  devices.set(name, info);
}

/** Issues "must be page-aligned" unless `value` is a multiple of 4096; returns whether it is. */
function checkPageAligned(r: Reader, path: string, value: bigint): boolean {
  if (value % PAGE_SIZE === 0n) return true;
  r.issue(path, `must be page-aligned (a multiple of 0x1000), got ${formatHex(value)}`);
  return false;
}

function pmemCapacity(pmem: PmemDraft): bigint | undefined {
  const { size, dataOffset, pfnPad } = pmem;
  if (size === undefined || dataOffset === undefined || pfnPad === undefined) return undefined;
  const capacity = size - pfnPad - dataOffset;
  return capacity > 0n ? capacity : undefined;
}

function readPmem(r: Reader, top: Fields, devices: Devices): PmemDraft[] {
  const u64 = r.integer();
  const bytes = r.integer({ size: true });
  const positive = r.integer({ min: 1n });
  const drafts = r.entries(top, 'pmem', (value, entry): PmemDraft => {
    const draft: PmemDraft = { entry, badblocks: [], partitions: [] };
    const f = r.mapping(value, entry, [
      'name',
      'physAddr',
      'size',
      'dataOffset',
      'pfnPad',
      'mode',
      'badblocks',
      'partitions',
    ]);
    if (f === undefined) return draft;
    draft.name = f.take('name', REQUIRED, (v, p) => r.name(v, p));
    draft.physAddr = f.take('physAddr', REQUIRED, bytes);
    draft.size = f.take('size', REQUIRED, r.integer({ size: true, min: 1n }));
    draft.mode = f.take('mode', { default: 'fsdax' as const }, r.oneOf(['fsdax', 'raw'] as const));
    // data_offset is 0 in raw mode (no info block, no struct pages): kernel-semantics §2.1.
    draft.dataOffset = f.take('dataOffset', draft.mode === 'raw' ? { default: 0n } : REQUIRED, bytes);
    draft.pfnPad = f.take('pfnPad', { default: 0n }, bytes);
    for (const key of ['physAddr', 'dataOffset'] as const) {
      const v = draft[key];
      if (v !== undefined) checkPageAligned(r, f.at(key), v);
    }
    const { size, dataOffset, pfnPad } = draft;
    if (
      size !== undefined &&
      dataOffset !== undefined &&
      pfnPad !== undefined &&
      size <= dataOffset + pfnPad
    ) {
      r.issue(
        f.at('size'),
        `size ${formatHex(size)} must be larger than dataOffset + pfnPad (${formatHex(dataOffset + pfnPad)}); ` +
          'the namespace would have no data capacity',
      );
    }
    // x86-64 physical addresses have at most 52 bits (pfns fit in 40).
    if (draft.physAddr !== undefined && size !== undefined && draft.physAddr + size > 1n << 52n) {
      r.issue(
        f.at('size'),
        `the namespace ${formatHex(draft.physAddr)}..${formatHex(draft.physAddr + size - 1n)} runs past the 52-bit physical address space`,
      );
    }
    const capacity = pmemCapacity(draft);
    const capacitySectors = capacity === undefined ? undefined : capacity / SECTOR_SIZE;
    const fitsText = (first: bigint, count: bigint): string =>
      `${sectorText(first, count)} lie outside ${draft.name ?? 'the namespace'}, whose capacity ` +
      `(size − pfnPad − dataOffset) is ${capacitySectors} sectors (0..${(capacitySectors ?? 0n) - 1n})`;

    draft.badblocks = r.entries(f, 'badblocks', (v, p) => {
      const bb = r.mapping(v, p, ['sector', 'count']);
      const sector = bb?.take('sector', REQUIRED, u64);
      const count = bb?.take('count', REQUIRED, positive);
      if (
        sector !== undefined &&
        count !== undefined &&
        capacitySectors !== undefined &&
        sector + count > capacitySectors
      ) {
        r.issue(p, fitsText(sector, count));
      }
      return { entry: p, sector, count };
    });

    draft.partitions = r.entries(f, 'partitions', (v, p) => {
      const part = r.mapping(v, p, ['name', 'start', 'sectors']);
      const name = part?.take('name', REQUIRED, (x, q) => r.name(x, q));
      const start = part?.take('start', REQUIRED, u64);
      const sectors = part?.take('sectors', REQUIRED, positive);
      if (
        start !== undefined &&
        sectors !== undefined &&
        capacitySectors !== undefined &&
        start + sectors > capacitySectors
      ) {
        r.issue(p, fitsText(start, sectors));
      }
      return { entry: p, name, start, sectors };
    });
    checkDisjoint(
      draft.partitions,
      (part) =>
        part.start === undefined || part.sectors === undefined
          ? undefined
          : { first: part.start, count: part.sectors },
      (part, earlier, first, last) =>
        r.issue(
          part.entry,
          `${sectorText(first, last - first + 1n)} overlap ${earlier.name ?? earlier.entry} (${earlier.entry})`,
        ),
    );
    return draft;
  });

  for (const draft of drafts) {
    claimDeviceName(r, devices, draft.name, keyPath(draft.entry, 'name'), {
      kind: 'pmem',
      entry: draft.entry,
      bytes: pmemCapacity(draft),
      pmems: new Set(draft.name === undefined ? [] : [draft.name]),
    });
    for (const part of draft.partitions) {
      claimDeviceName(r, devices, part.name, keyPath(part.entry, 'name'), {
        kind: 'partition',
        entry: part.entry,
        bytes: part.sectors === undefined ? undefined : part.sectors * SECTOR_SIZE,
        pmems: new Set(draft.name === undefined ? [] : [draft.name]),
      });
    }
  }
  checkDisjoint(
    drafts,
    (pmem) =>
      pmem.physAddr === undefined || pmem.size === undefined
        ? undefined
        : { first: pmem.physAddr, count: pmem.size },
    (pmem, earlier, first, last) =>
      r.issue(
        keyPath(pmem.entry, 'physAddr'),
        `physical range ${formatHex(first)}..${formatHex(last)} overlaps namespace ${earlier.name ?? earlier.entry}`,
      ),
  );
  return drafts;
}

/**
 * Calls `report` for items whose range overlaps another item's range, with the other item
 * (earlier in file order) and the overlap `first..last`; an item is reported at most once.
 * Sort, then sweep: each range is compared with the one reaching furthest among those that
 * start before it, so every overlap region gives an issue in O(n log n), not every pair.
 */
function checkDisjoint<T>(
  items: T[],
  range: (item: T) => { first: bigint; count: bigint } | undefined,
  report: (item: T, earlier: T, first: bigint, last: bigint) => void,
): void {
  const ranged = items.flatMap((item, index) => {
    const r = range(item);
    return r === undefined ? [] : [{ item, index, first: r.first, end: r.first + r.count }];
  });
  ranged.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : a.index - b.index));
  const reported = new Set<number>();
  let reach: (typeof ranged)[number] | undefined;
  for (const mine of ranged) {
    if (reach !== undefined && reach.end > mine.first) {
      const [earlier, later] = reach.index < mine.index ? [reach, mine] : [mine, reach];
      if (!reported.has(later.index)) {
        reported.add(later.index);
        const end = mine.end < reach.end ? mine.end : reach.end;
        report(later.item, earlier.item, mine.first, end - 1n);
      }
    }
    if (reach === undefined || mine.end > reach.end) reach = mine;
  }
}

function readDm(r: Reader, top: Fields, devices: Devices): DmDraft[] {
  const u64 = r.integer();
  const drafts = r.entries(top, 'dm', (value, entry): DmDraft => {
    const draft: DmDraft = { entry, table: [] };
    const f = r.mapping(value, entry, ['name', 'mode', 'table']);
    if (f === undefined) return draft;
    draft.name = f.take('name', REQUIRED, (v, p) => r.name(v, p));
    draft.mode = f.take('mode', { default: 'proposal' as const }, r.oneOf(['proposal', 'upstream'] as const));
    if (!f.has('table')) {
      r.issue(f.at('table'), "required field 'table' is missing");
      return draft;
    }
    draft.table = r.entries(f, 'table', (v, p) => {
      const t = r.mapping(v, p, ['begin', 'len', 'type', 'device', 'start']);
      return {
        entry: p,
        begin: t?.take('begin', REQUIRED, u64),
        len: t?.take('len', REQUIRED, r.integer({ min: 1n })),
        type: t?.take('type', REQUIRED, r.oneOf(['linear'] as const)),
        device: t?.take('device', REQUIRED, (x, q) => r.name(x, q)),
        start: t?.take('start', REQUIRED, u64),
      };
    });
    if (f.has('table') && Array.isArray(f.get('table')) && draft.table.length === 0) {
      r.issue(f.at('table'), 'must hold at least one target');
    }
    checkDmTable(r, draft, devices);
    return draft;
  });

  for (const draft of drafts) {
    const lens = draft.table.map((t) => t.len);
    const pmems = new Set<string>();
    for (const target of draft.table) {
      const component = target.device === undefined ? undefined : devices.get(target.device);
      component?.pmems.forEach((pmem) => pmems.add(pmem));
    }
    claimDeviceName(r, devices, draft.name, keyPath(draft.entry, 'name'), {
      kind: 'dm',
      entry: draft.entry,
      bytes: lens.every((len) => len !== undefined)
        ? lens.reduce<bigint>((sum, len) => sum + len!, 0n) * SECTOR_SIZE
        : undefined,
      pmems,
    });
  }
  return drafts;
}

/** dm-linear: targets tile the dm device from sector 0 and each fits in its component. */
function checkDmTable(r: Reader, draft: DmDraft, devices: Devices): void {
  let expectedBegin: bigint | undefined = 0n;
  for (const target of draft.table) {
    if (target.begin !== undefined && expectedBegin !== undefined && target.begin !== expectedBegin) {
      const why =
        expectedBegin === 0n
          ? 'the first target must begin at sector 0'
          : `targets must be contiguous, without gap or overlap: the previous target ends at sector ${expectedBegin - 1n}`;
      r.issue(keyPath(target.entry, 'begin'), `expected ${expectedBegin}, got ${target.begin}; ${why}`);
    }
    expectedBegin =
      target.begin !== undefined && target.len !== undefined ? target.begin + target.len : undefined;

    if (target.device === undefined) continue;
    // dm devices are registered after every table is read, so a dm name is not found here.
    const component = devices.get(target.device);
    if (component === undefined) {
      if (devices.lacks(target.device)) {
        r.issue(keyPath(target.entry, 'device'), `no pmem namespace or partition named '${target.device}'`);
      }
      continue;
    }
    if (target.start === undefined || target.len === undefined || component.bytes === undefined) continue;
    const componentSectors = component.bytes / SECTOR_SIZE;
    if (target.start + target.len > componentSectors) {
      r.issue(
        target.entry,
        `start + len = ${target.start + target.len} sectors, but ${target.device} has only ${componentSectors} sectors`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Filesystems

/** A spec being read: each field may be missing after an issue; `entry` is its path. */
type Draft<T, Lists extends keyof T = never> = { entry: string } & {
  [K in Exclude<keyof T, Lists>]?: T[K] | undefined;
};

type FileDraft = Draft<FileSpec, 'extents' | 'attrBlocks' | 'bmbtBlocks'> & {
  extents: ({ entry: string } & Partial<ExtentSpec>)[];
  attrBlocks: RangeDraft[];
  bmbtBlocks: RangeDraft[];
};
type RangeDraft = { entry: string; owner?: SpecialOwner | undefined } & Partial<BlockRange>;
type FsDraft = Draft<FilesystemSpec, 'metadata' | 'cowStaging' | 'files'> & {
  metadata: RangeDraft[];
  cowStaging: RangeDraft[];
  files: FileDraft[];
};

/** One rmap-record-to-be: a block range with what owns it. */
interface OwnedRange {
  entry: string;
  first: bigint;
  count: bigint;
  /** File-data extents are the only ranges that may be shared (reflink). */
  isData: boolean;
  file: FileDraft | undefined;
  describe: string;
}

function readRange(r: Reader, value: unknown, entry: string, withOwner: boolean): RangeDraft {
  const f = r.mapping(value, entry, withOwner ? ['owner', 'block', 'count'] : ['block', 'count']);
  if (f === undefined) return { entry };
  return {
    entry,
    owner: withOwner ? f.take('owner', REQUIRED, r.oneOf(SPECIAL_OWNERS)) : undefined,
    block: f.take('block', REQUIRED, r.integer()),
    count: f.take('count', REQUIRED, r.integer({ min: 1n })),
  };
}

function readFile(r: Reader, value: unknown, entry: string): FileDraft {
  const draft: FileDraft = { entry, extents: [], attrBlocks: [], bmbtBlocks: [] };
  const f = r.mapping(value, entry, [
    'path',
    'ino',
    'kind',
    'cache',
    'daxFlag',
    'extents',
    'attrBlocks',
    'bmbtBlocks',
  ]);
  if (f === undefined) return draft;
  draft.path = f.take('path', REQUIRED, (v, p) => {
    const path = r.text(v, p);
    if (path !== undefined && !path.startsWith('/')) {
      r.issue(p, `must be an absolute path starting with '/', got ${JSON.stringify(path)}`);
      return undefined;
    }
    return path;
  });
  draft.ino = f.take('ino', REQUIRED, r.integer({ min: 1n }));
  draft.kind = f.take('kind', { default: 'regular' as const }, r.oneOf(['regular', 'directory'] as const));
  draft.cache = f.take(
    'cache',
    { default: 'active' as const },
    r.oneOf(['active', 'uncached', 'transient'] as const),
  );
  draft.daxFlag = f.take('daxFlag', { default: false }, (v, p) => r.boolean(v, p));
  draft.extents = r.entries(f, 'extents', (v, p) => {
    const e = r.mapping(v, p, ['offset', 'block', 'count']);
    return {
      entry: p,
      offset: e?.take('offset', REQUIRED, r.integer()),
      block: e?.take('block', REQUIRED, r.integer()),
      count: e?.take('count', REQUIRED, r.integer({ min: 1n })),
    };
  });
  draft.attrBlocks = r.entries(f, 'attrBlocks', (v, p) => readRange(r, v, p, false));
  draft.bmbtBlocks = r.entries(f, 'bmbtBlocks', (v, p) => readRange(r, v, p, false));

  // Within one file, each file block has at most one extent.
  checkDisjoint(
    draft.extents,
    (e) =>
      e.offset === undefined || e.count === undefined ? undefined : { first: e.offset, count: e.count },
    (e, earlier, first, last) =>
      r.issue(
        keyPath(e.entry, 'offset'),
        `file blocks ${first}..${last} are already mapped by ${earlier.entry}; ` +
          'extents of one file must not overlap in file offset',
      ),
  );
  return draft;
}

function readFilesystems(
  r: Reader,
  top: Fields,
  devices: Devices,
  fsNames: Index<string, FsDraft>,
): FsDraft[] {
  const deviceUsers = new Map<string, string>();
  return r.entries(top, 'filesystems', (value, entry): FsDraft => {
    const draft: FsDraft = { entry, metadata: [], cowStaging: [], files: [] };
    const f = r.mapping(value, entry, [
      'name',
      'type',
      'device',
      'logDevice',
      'blockSize',
      'agBlocks',
      'agCount',
      'rmapbt',
      'reflink',
      'dax',
      'state',
      'frozen',
      'metadata',
      'cowStaging',
      'files',
    ]);
    if (f === undefined) {
      fsNames.complete = false;
      return draft;
    }
    draft.name = f.take('name', REQUIRED, (v, p) => r.name(v, p));
    if (draft.name === undefined) fsNames.complete = false;
    else {
      const namePath = f.at('name');
      const device = devices.get(draft.name);
      const earlier = fsNames.get(draft.name);
      if (draft.name === 'none')
        r.issue(namePath, "'none' is reserved (it means no holder); choose another name");
      else if (earlier !== undefined)
        r.issue(namePath, `name '${draft.name}' is already used by ${earlier.entry}`);
      else if (device !== undefined) {
        r.issue(
          namePath,
          `name '${draft.name}' is already used by ${KIND_TEXT[device.kind]} (${device.entry}); ` +
            'filesystem and device names must differ, since a holder may be either',
        );
      } else fsNames.set(draft.name, draft);
    }
    draft.type = f.take('type', { default: 'xfs' as const }, r.oneOf(['xfs', 'ext4'] as const));
    draft.device = f.take('device', REQUIRED, (v, p) => r.name(v, p));
    draft.logDevice = f.take('logDevice', OPTIONAL, (v, p) => r.name(v, p));
    draft.blockSize = f.take('blockSize', { default: 4096 }, (v, p) => {
      const size = r.count({ min: 512n, max: 65536n, size: true })(v, p);
      if (size !== undefined && (size & (size - 1)) !== 0) {
        r.issue(p, `must be a power of two between 512 and 65536, got ${size}`);
        return undefined;
      }
      return size;
    });
    const agBlocksPresence: Presence<bigint> =
      draft.type === 'ext4' ? { default: EXT4_BLOCKS_PER_GROUP } : draft.type === 'xfs' ? REQUIRED : OPTIONAL;
    draft.agBlocks = f.take('agBlocks', agBlocksPresence, r.integer({ min: 1n, max: U32_MAX }));
    draft.agCount = f.take('agCount', OPTIONAL, r.count({ min: 1n, max: U32_MAX }));
    // ext4 has neither an rmap btree nor shared extents: on ext4 both read as false, whatever
    // the file says (`true` is the format's documented default, so writing it must not fail);
    // shared extents on ext4 are still refused below.
    const xfsOnly = draft.type !== 'ext4';
    for (const key of ['rmapbt', 'reflink'] as const) {
      const on = f.take(key, { default: xfsOnly }, (v, p) => r.boolean(v, p));
      draft[key] = on === undefined ? undefined : on && xfsOnly;
    }
    draft.dax = f.take('dax', { default: 'always' as const }, r.oneOf(['always', 'never', 'inode'] as const));
    draft.state = f.take('state', { default: 'mounted' as const }, r.oneOf(['mounted', 'mounting'] as const));
    draft.frozen = f.take('frozen', { default: 'none' as const }, r.oneOf(['none', 'user'] as const));
    draft.metadata = r.entries(f, 'metadata', (v, p) => readRange(r, v, p, true));
    draft.cowStaging = r.entries(f, 'cowStaging', (v, p) => readRange(r, v, p, false));
    draft.files = r.entries(f, 'files', (v, p) => readFile(r, v, p));

    checkFsDevices(r, f, draft, devices, deviceUsers);
    checkFsFiles(r, draft);
    checkFsBlocks(r, f, draft, devices);
    return draft;
  });
}

function checkFsDevices(
  r: Reader,
  f: Fields,
  draft: FsDraft,
  devices: Devices,
  deviceUsers: Map<string, string>,
): void {
  const fsName = draft.name ?? draft.entry;
  const data = draft.device === undefined ? undefined : devices.get(draft.device);
  if (draft.device !== undefined) {
    if (data === undefined) {
      if (devices.lacks(draft.device))
        r.issue(f.at('device'), `no pmem namespace, partition or dm device named '${draft.device}'`);
    } else if (deviceUsers.has(draft.device)) {
      r.issue(
        f.at('device'),
        `${draft.device} is already used by filesystem ${deviceUsers.get(draft.device)}`,
      );
    } else deviceUsers.set(draft.device, fsName);
  }
  if (draft.logDevice === undefined) return;
  const logPath = f.at('logDevice');
  const log = devices.get(draft.logDevice);
  if (log === undefined) {
    if (devices.lacks(draft.logDevice)) r.issue(logPath, `no pmem namespace named '${draft.logDevice}'`);
  } else if (log.kind === 'dm') {
    r.issue(logPath, `must be a pmem namespace or a partition; '${draft.logDevice}' is ${KIND_TEXT[log.kind]}`);
  } else if (draft.logDevice === draft.device)
    r.issue(logPath, 'must differ from device: an external log has a device of its own');
  else if (data?.pmems.has(draft.logDevice)) {
    r.issue(
      logPath,
      `${draft.logDevice} lies under the data device ${draft.device}; an external log needs a namespace of its own`,
    );
  } else if (deviceUsers.has(draft.logDevice)) {
    r.issue(logPath, `${draft.logDevice} is already used by filesystem ${deviceUsers.get(draft.logDevice)}`);
  } else deviceUsers.set(draft.logDevice, fsName);
}

function checkFsFiles(r: Reader, draft: FsDraft): void {
  const inos = new Map<bigint, FileDraft>();
  const paths = new Map<string, FileDraft>();
  for (const file of draft.files) {
    if (file.ino !== undefined) {
      const earlier = inos.get(file.ino);
      if (earlier !== undefined)
        r.issue(
          keyPath(file.entry, 'ino'),
          `ino ${file.ino} is already used by ${earlier.path ?? earlier.entry}`,
        );
      else inos.set(file.ino, file);
    }
    if (file.path !== undefined) {
      const earlier = paths.get(file.path);
      if (earlier !== undefined)
        r.issue(keyPath(file.entry, 'path'), `${file.path} is already listed (${earlier.entry})`);
      else paths.set(file.path, file);
    }
  }
}

function ownedRanges(draft: FsDraft): OwnedRange[] {
  const ranges: OwnedRange[] = [];
  const add = (
    range: RangeDraft | ({ entry: string } & Partial<ExtentSpec>),
    isData: boolean,
    file: FileDraft | undefined,
    describe: string,
  ): void => {
    if (range.block === undefined || range.count === undefined) return;
    ranges.push({ entry: range.entry, first: range.block, count: range.count, isData, file, describe });
  };
  draft.metadata.forEach((m, i) =>
    add(m, false, undefined, `metadata[${i}]${m.owner ? ` (${m.owner})` : ''}`),
  );
  draft.cowStaging.forEach((c, i) => add(c, false, undefined, `cowStaging[${i}] (OWN_COW)`));
  for (const file of draft.files) {
    const name = file.path ?? file.entry;
    file.extents.forEach((e, i) => add(e, true, file, `${name} (extents[${i}])`));
    file.attrBlocks.forEach((a, i) => add(a, false, file, `${name} (attrBlocks[${i}])`));
    file.bmbtBlocks.forEach((b, i) => add(b, false, file, `${name} (bmbtBlocks[${i}])`));
  }
  return ranges;
}

/**
 * Block geometry: every range lies inside the filesystem and (XFS) inside one allocation
 * group. Two file-data extents may share blocks only on a reflink XFS. A metadata, attr,
 * bmbt or CoW range may overlap anything: cross-linked blocks are what on-disk corruption
 * looks like, and kernel-semantics §1.c ("the walk continues; other records in the range are
 * still processed") can only be seen that way.
 */
function checkFsBlocks(r: Reader, f: Fields, draft: FsDraft, devices: Devices): void {
  const ranges = ownedRanges(draft);
  const device = draft.device === undefined ? undefined : devices.get(draft.device);
  const fsName = draft.name ?? 'the filesystem';
  const { blockSize, agBlocks, agCount } = draft;
  if (device?.bytes !== undefined && blockSize !== undefined && agBlocks !== undefined) {
    const deviceBlocks = device.bytes / BigInt(blockSize);
    let fsBlocks = deviceBlocks;
    if (agCount !== undefined) {
      const needed = BigInt(agCount - 1) * agBlocks;
      if (needed >= deviceBlocks) {
        r.issue(
          f.at('agCount'),
          `${agCount} allocation groups of ${agBlocks} blocks need more than ${needed} blocks, but ` +
            `${draft.device} holds only ${deviceBlocks} blocks of ${blockSize} bytes`,
        );
      }
      const covered = BigInt(agCount) * agBlocks;
      if (covered < fsBlocks) fsBlocks = covered;
    }
    if (fsBlocks === 0n)
      r.issue(f.at('device'), `${draft.device} is smaller than one block of ${blockSize} bytes`);
    const groups = agCount !== undefined ? BigInt(agCount) : (deviceBlocks + agBlocks - 1n) / agBlocks;
    if (groups > BigInt(SCENARIO_LIMITS.agCount)) {
      r.issue(
        f.at(agCount !== undefined ? 'agCount' : 'agBlocks'),
        (agCount !== undefined
          ? `agCount ${agCount} is too many:`
          : `${draft.device} holds ${deviceBlocks} blocks of ${blockSize} bytes: with agBlocks ${agBlocks} that is ${groups} allocation groups;`) +
          ` the model handles at most ${SCENARIO_LIMITS.agCount} (2^20) allocation groups per filesystem` +
          (agCount !== undefined ? '' : ': raise agBlocks or set agCount'),
      );
      return;
    }
    for (const range of ranges) {
      const last = range.first + range.count - 1n;
      if (last >= fsBlocks) {
        r.issue(
          range.entry,
          `${blockText(range.first, range.count)} lie outside ${fsName}, which has ${fsBlocks} blocks (0..${fsBlocks - 1n})`,
        );
        continue;
      }
      if (draft.type === 'xfs' && range.first / agBlocks !== last / agBlocks) {
        const boundary = (range.first / agBlocks + 1n) * agBlocks;
        r.issue(
          range.entry,
          `${blockText(range.first, range.count)} cross the allocation-group boundary at block ${boundary} ` +
            `(agBlocks ${agBlocks}); one rmap record lies inside one group`,
        );
      }
    }
  }
  checkSharing(r, draft, ranges);
}

/**
 * File-data extents may share blocks only on a reflink XFS: elsewhere, each data range that
 * overlaps an earlier one (in file order) is reported once. Metadata ranges take no part.
 */
function checkSharing(r: Reader, draft: FsDraft, ranges: OwnedRange[]): void {
  if (draft.type !== 'ext4' && draft.reflink !== false) return;
  checkDisjoint(
    ranges.filter((range) => range.isData),
    (range) => ({ first: range.first, count: range.count }),
    (later, earlier, first, last) => {
      const shared = `${first}..${last}`;
      const other =
        earlier.file === later.file ? `${earlier.describe}, in the same file` : (earlier.file?.path ?? earlier.describe);
      r.issue(
        later.entry,
        draft.type === 'ext4'
          ? `shares blocks ${shared} with ${other}, but ext4 has no shared extents`
          : `shares blocks ${shared} with ${other} but reflink is false`,
      );
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Processes

type MmapDraft = Draft<MmapSpec>;
type ProcessDraft = Draft<ProcessSpec, 'mmaps'> & { mmaps: MmapDraft[] };

/** Cuts a name to 15 UTF-8 bytes, as the kernel keeps task->comm, without splitting a character. */
export function truncateComm(comm: string): string {
  let bytes = 0;
  let out = '';
  for (const ch of comm) {
    const codePoint = ch.codePointAt(0)!;
    bytes += codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
    if (bytes > COMM_MAX_BYTES) break;
    out += ch;
  }
  return out;
}

function readFaulted(r: Reader, f: Fields, pages: number | undefined): number[] | undefined {
  if (!f.has('faulted')) return [];
  const value = f.get('faulted');
  const path = f.at('faulted');
  if (value === 'none') return [];
  if (value === 'all') return pages === undefined ? undefined : Array.from({ length: pages }, (_, i) => i);
  if (!Array.isArray(value)) {
    r.issue(
      path,
      `expected all, none or a list of mapping-relative page numbers, got ${describeValue(value)}`,
    );
    return undefined;
  }
  const read = r.count();
  const result = new Set<number>();
  let ok = true;
  value.forEach((item, index) => {
    const page = read(item, indexPath(path, index));
    if (page === undefined) ok = false;
    else if (pages !== undefined && page >= pages) {
      r.issue(
        indexPath(path, index),
        `page ${page} is beyond the mapping's ${pages} pages (0..${pages - 1})`,
      );
      ok = false;
    } else result.add(page);
  });
  return ok ? [...result].sort((a, b) => a - b) : undefined;
}

function readMmap(r: Reader, value: unknown, entry: string, filesystems: Index<string, FsDraft>): MmapDraft {
  const draft: MmapDraft = { entry };
  const f = r.mapping(value, entry, ['fs', 'path', 'start', 'pgoff', 'pages', 'shared', 'faulted', 'pmd']);
  if (f === undefined) return draft;
  draft.fs = f.take('fs', REQUIRED, (v, p) => r.name(v, p));
  draft.path = f.take('path', REQUIRED, (v, p) => r.text(v, p));
  draft.start = f.take('start', REQUIRED, r.integer({ size: true }));
  draft.pgoff = f.take('pgoff', REQUIRED, r.integer());
  draft.pages = f.take('pages', REQUIRED, r.count({ min: 1n, max: MAX_MMAP_PAGES }));
  draft.shared = f.take('shared', { default: true }, (v, p) => r.boolean(v, p));
  draft.pmd = f.take('pmd', { default: false }, (v, p) => r.boolean(v, p));
  draft.faulted = readFaulted(r, f, draft.pages);
  checkMappedFile(r, f, draft, filesystems);
  checkMappingAddress(r, f, draft);
  return draft;
}

const FILES_BY_PATH = new WeakMap<FsDraft, Map<string, FileDraft>>();

/** A filesystem's files by path (the first of a repeated path), built once. */
function filesByPath(fs: FsDraft): Map<string, FileDraft> {
  let byPath = FILES_BY_PATH.get(fs);
  if (byPath === undefined) {
    byPath = new Map();
    for (const file of fs.files) if (file.path !== undefined && !byPath.has(file.path)) byPath.set(file.path, file);
    FILES_BY_PATH.set(fs, byPath);
  }
  return byPath;
}

/** The mapped file exists, and a mapped inode is a regular file in the inode cache. */
function checkMappedFile(r: Reader, f: Fields, draft: MmapDraft, filesystems: Index<string, FsDraft>): void {
  if (draft.fs === undefined) return;
  const fs = filesystems.get(draft.fs);
  if (fs === undefined) {
    if (filesystems.lacks(draft.fs)) r.issue(f.at('fs'), `no filesystem named '${draft.fs}'`);
    return;
  }
  if (draft.path === undefined) return;
  const file = filesByPath(fs).get(draft.path);
  if (file === undefined) {
    if (fs.files.every((x) => x.path !== undefined))
      r.issue(f.at('path'), `${draft.fs} has no file ${draft.path}`);
  } else if (file.kind === 'directory') {
    r.issue(f.at('path'), `${draft.path} is a directory; only a regular file can be mapped`);
  }
  // Any inode cache state is accepted for a mapped file: the rmap walk then shows what
  // xfs_iget(XFS_IGET_INCORE) answers for it (uncached → skipped, transient → shutdown).

}

/**
 * A mapping lies page-aligned in user space; a PMD mapping starts 2 MiB-aligned in both the
 * address space and the file. A start found wrong is dropped, so the address checks of injections and ptes that
 * depend on it stay quiet instead of repeating the issue.
 */
function checkMappingAddress(r: Reader, f: Fields, draft: MmapDraft): void {
  const { start, pages, pgoff } = draft;
  if (start !== undefined) {
    const end = pages === undefined ? undefined : start + BigInt(pages) * PAGE_SIZE;
    if (!checkPageAligned(r, f.at('start'), start)) {
      draft.start = undefined;
    } else if (end !== undefined && end > USER_SPACE_END) {
      r.issue(
        f.at('start'),
        `mapping ${addressText(start, end)} is not in user space (below ${formatHex(USER_SPACE_END)})`,
      );
      draft.start = undefined;
    }
  }
  if (draft.pmd !== true) return;
  if (draft.start !== undefined && draft.start % PMD_SIZE !== 0n) {
    r.issue(
      f.at('start'),
      `pmd: true needs a 2 MiB-aligned start (a multiple of 0x200000), got ${formatHex(draft.start)}`,
    );
  }
  if (pgoff !== undefined && pgoff % PAGES_PER_PMD !== 0n) {
    r.issue(f.at('pgoff'), `pmd: true needs a 2 MiB-aligned pgoff (a multiple of 512 pages), got ${pgoff}`);
  }
  // A length that is not a whole number of 2 MiB entries is fine: the part of the mapping that
  // cannot hold a whole PMD is faulted with 4 KiB entries, as dax_iomap_pmd_fault() falls back.
}

function mmapEnd(m: MmapDraft): bigint | undefined {
  return m.start === undefined || m.pages === undefined ? undefined : m.start + BigInt(m.pages) * PAGE_SIZE;
}

function readProcesses(
  r: Reader,
  top: Fields,
  filesystems: Index<string, FsDraft>,
  pids: Index<number, ProcessDraft>,
): ProcessDraft[] {
  return r.entries(top, 'processes', (value, entry): ProcessDraft => {
    const draft: ProcessDraft = { entry, mmaps: [] };
    const f = r.mapping(value, entry, ['pid', 'comm', 'mceKill', 'capSysAdmin', 'mmaps']);
    draft.pid = f?.take('pid', REQUIRED, r.count({ min: 1n, max: PID_MAX }));
    if (f === undefined || draft.pid === undefined) {
      pids.complete = false;
      if (f === undefined) return draft;
    } else {
      const earlier = pids.get(draft.pid);
      if (earlier !== undefined) r.issue(f.at('pid'), `pid ${draft.pid} is already used by ${earlier.entry}`);
      else pids.set(draft.pid, draft);
    }
    const comm = f.take('comm', REQUIRED, (v, p) => r.text(v, p));
    draft.comm = comm === undefined ? undefined : truncateComm(comm);
    draft.mceKill = f.take(
      'mceKill',
      { default: 'default' as const },
      r.oneOf(['default', 'early', 'late'] as const),
    );
    draft.capSysAdmin = f.take('capSysAdmin', { default: true }, (v, p) => r.boolean(v, p));
    draft.mmaps = r.entries(f, 'mmaps', (v, p) => readMmap(r, v, p, filesystems));
    checkDisjoint(
      draft.mmaps,
      (m) => {
        const end = mmapEnd(m);
        return m.start === undefined || end === undefined ? undefined : { first: m.start, count: end - m.start };
      },
      (m, earlier) =>
        r.issue(
          keyPath(m.entry, 'start'),
          `mapping ${addressText(m.start!, mmapEnd(m)!)} overlaps ${earlier.entry} (${addressText(earlier.start!, mmapEnd(earlier)!)})`,
        ),
    );
    return draft;
  });
}

const SORTED_MMAPS = new WeakMap<ProcessDraft, { start: bigint; end: bigint }[] | null>();

/** A process's mappings sorted by start, or null when one has no valid start or size. */
function sortedMmaps(process: ProcessDraft): { start: bigint; end: bigint }[] | null {
  let sorted = SORTED_MMAPS.get(process);
  if (sorted === undefined) {
    sorted = process.mmaps.some((m) => m.start === undefined || mmapEnd(m) === undefined)
      ? null
      : process.mmaps
          .map((m) => ({ start: m.start!, end: mmapEnd(m)! }))
          .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    SORTED_MMAPS.set(process, sorted);
  }
  return sorted;
}

/** The mapping holding `at` (the last one starting at or below it), by binary search. */
function mappingAt(sorted: { start: bigint; end: bigint }[], at: bigint): { start: bigint; end: bigint } | undefined {
  let lo = 0;
  let hi = sorted.length - 1;
  let found: { start: bigint; end: bigint } | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const m = sorted[mid]!;
    if (m.start <= at) {
      found = m;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found !== undefined && at < found.end ? found : undefined;
}

/**
 * Where an address range falls short of a process's mappings, or undefined when covered. Also
 * undefined when a mapping's own start or size was invalid (already an issue): then the answer
 * is unknown, and a second issue would only repeat the first.
 */
function firstUnmapped(process: ProcessDraft, start: bigint, end: bigint): bigint | undefined {
  const sorted = sortedMmaps(process);
  if (sorted === null) return undefined;
  let at = start;
  while (at < end) {
    const covering = mappingAt(sorted, at);
    if (covering === undefined) return at;
    at = covering.end;
  }
  return undefined;
}

function mappingsText(process: ProcessDraft): string {
  const ranges = process.mmaps.flatMap((m) => {
    const end = mmapEnd(m);
    return m.start === undefined || end === undefined ? [] : [addressText(m.start, end)];
  });
  if (ranges.length === 0) return `pid ${process.pid} maps nothing`;
  const shown = ranges.length > 8 ? [...ranges.slice(0, 8), `… (${ranges.length} mappings)`] : ranges;
  return `pid ${process.pid} maps ${shown.join(', ')}`;
}

// ---------------------------------------------------------------------------------------------
// Injections

/** An id written as a YAML number (`id: 1`) is read as its text, as keys of expect.injections are. */
function numberAsText(value: unknown): unknown {
  return typeof value === 'number' || typeof value === 'bigint' ? String(value) : value;
}

type InjectionDraft = { entry: string; id?: string | undefined; spec?: InjectionSpec | undefined };

/** Reads a `pid` field that must name a declared process; returns that process. */
function readDeclaredPid(r: Reader, f: Fields, pids: Index<number, ProcessDraft>): ProcessDraft | undefined {
  const pid = f.take('pid', REQUIRED, r.count({ min: 1n, max: PID_MAX }));
  if (pid === undefined) return undefined;
  if (pids.lacks(pid)) r.issue(f.at('pid'), `pid ${pid} is not a declared process`);
  return pids.get(pid);
}

function readInjections(
  r: Reader,
  top: Fields,
  pids: Index<number, ProcessDraft>,
  devices: Devices,
  ids: Index<string, InjectionDraft>,
): InjectionDraft[] {
  const pfn = r.integer({ max: PFN_MAX });
  const address = r.integer({ size: true });
  const declared = (f: Fields): ProcessDraft | undefined => readDeclaredPid(r, f, pids);

  return r.entries(top, 'injections', (value, entry): InjectionDraft => {
    const f = r.mapping(value, entry, ['id', ...INJECTION_KINDS]);
    // A YAML number (`id: 1`) is read as its text, as keys of expect.injections are.
    const id = f?.take('id', REQUIRED, (v, p) => r.name(numberAsText(v), p));
    const draft: InjectionDraft = { entry, id };
    if (f === undefined || id === undefined) {
      ids.complete = false;
      if (f === undefined) return draft;
    } else {
      const earlier = ids.get(id);
      if (earlier !== undefined) r.issue(f.at('id'), `id '${id}' is already used by ${earlier.entry}`);
      else ids.set(id, draft);
    }
    const kinds = INJECTION_KINDS.filter((kind) => f.map.has(kind));
    if (kinds.length !== 1) {
      r.issue(
        entry,
        kinds.length === 0
          ? `expected one of ${INJECTION_KINDS.join(', ')} besides id, got none`
          : `expected exactly one of ${INJECTION_KINDS.join(', ')}, got ${kinds.join(' and ')}; write one injection per entry`,
      );
      return draft;
    }
    const spec = readInjection(r, f, kinds[0]!, { declared, pfn, address, devices });
    if (spec !== undefined && id !== undefined) draft.spec = { id, ...spec } as InjectionSpec;
    return draft;
  });
}

interface InjectionReaders {
  declared: (f: Fields) => ProcessDraft | undefined;
  pfn: (value: unknown, path: string) => bigint | undefined;
  address: (value: unknown, path: string) => bigint | undefined;
  devices: Devices;
}

type InjectionBody = {
  [K in InjectionSpec['kind']]: Omit<Extract<InjectionSpec, { kind: K }>, 'id'>;
}[InjectionSpec['kind']];

function readInjection(
  r: Reader,
  top: Fields,
  kind: InjectionKind,
  x: InjectionReaders,
): InjectionBody | undefined {
  const keys: Record<InjectionKind, readonly string[]> = {
    madvise: ['pid', 'addr', 'pages'],
    corruptPfn: ['pfn'],
    mce: ['pid', 'pfn', 'ripv'],
    background: ['pfn'],
    unbind: ['device', 'pid'],
    access: ['pid', 'addr'],
  };
  const f = r.mapping(top.get(kind), top.at(kind), keys[kind]);
  if (f === undefined) return undefined;
  switch (kind) {
    case 'madvise': {
      const process = x.declared(f);
      const addr = f.take('addr', REQUIRED, x.address);
      const pages = f.take('pages', REQUIRED, r.count({ min: 1n, max: MAX_MMAP_PAGES }));
      // An unaligned start is no file error: madvise() itself answers -EINVAL.
      if (addr !== undefined && pages !== undefined && process !== undefined) {
        const first = addr & ~(PAGE_SIZE - 1n);
        const end = first + BigInt(pages) * PAGE_SIZE;
        const hole = firstUnmapped(process, first, end);
        if (hole !== undefined) {
          r.issue(
            f.at('addr'),
            `${addressText(addr, end)} (${pages} page${pages === 1 ? '' : 's'}) is not mapped by pid ${process.pid}: ` +
              `page ${formatHex(hole)} is outside every mapping (${mappingsText(process)})`,
          );
        }
      }
      if (process?.pid === undefined || addr === undefined || pages === undefined) return undefined;
      return { kind, pid: process.pid, addr, pages };
    }
    case 'access': {
      const process = x.declared(f);
      const addr = f.take('addr', REQUIRED, x.address);
      if (
        addr !== undefined &&
        process !== undefined &&
        firstUnmapped(process, addr, addr + 1n) !== undefined
      ) {
        r.issue(
          f.at('addr'),
          `${formatHex(addr)} is outside every mapping of pid ${process.pid} (${mappingsText(process)})`,
        );
      }
      if (process?.pid === undefined || addr === undefined) return undefined;
      return { kind, pid: process.pid, addr };
    }
    case 'mce': {
      const process = x.declared(f);
      const pfn = f.take('pfn', REQUIRED, x.pfn);
      const ripv = f.take('ripv', { default: true }, (v, p) => r.boolean(v, p));
      if (process?.pid === undefined || pfn === undefined || ripv === undefined) return undefined;
      return { kind, pid: process.pid, pfn, ripv };
    }
    case 'corruptPfn':
    case 'background': {
      const pfn = f.take('pfn', REQUIRED, x.pfn);
      return pfn === undefined ? undefined : { kind, pfn };
    }
    case 'unbind': {
      const device = f.take('device', REQUIRED, (v, p) => r.name(v, p));
      // The requesting task need not be a declared process (it is often pid 1, udev or a shell).
      const pid = f.take('pid', REQUIRED, r.count({ min: 1n, max: PID_MAX }));
      const info = device === undefined ? undefined : x.devices.get(device);
      if (device !== undefined && info === undefined && x.devices.lacks(device)) {
        r.issue(f.at('device'), `no pmem namespace or dm device named '${device}'`);
      } else if (device !== undefined && info?.kind === 'partition') {
        r.issue(f.at('device'), `'${device}' is a partition; unbind takes a pmem namespace or a dm device`);
      }
      if (device === undefined || pid === undefined) return undefined;
      return { kind, device, pid };
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Expectations

/** What the topology, processes and injections declared, for the names `expect` uses. */
interface Known {
  injectionIds: Index<string, InjectionDraft>;
  filesystems: Index<string, FsDraft>;
  devices: Devices;
  pids: Index<number, ProcessDraft>;
}

type ExpectedFs = NonNullable<ExpectSpec['filesystems']>[string];
type ExpectedDevice = NonNullable<ExpectSpec['devices']>[string];
type ExpectedPte = NonNullable<ExpectSpec['ptes']>[number];

/**
 * Reads a mapping keyed by names (injection ids, filesystems, devices); `check` reports a name
 * that is not declared and returns false to skip it.
 */
function namedEntries<T>(
  r: Reader,
  f: Fields,
  key: string,
  check: (name: string, path: string) => boolean,
  read: (value: unknown, path: string) => T | undefined,
): Record<string, T> | undefined {
  if (!f.has(key)) return undefined;
  const path = f.at(key);
  const value = f.get(key);
  if (!(value instanceof Map)) {
    r.issue(path, `expected a mapping, got ${describeValue(value)}`);
    return undefined;
  }
  const result: Record<string, T> = {};
  for (const [name, item] of value as YamlMap) {
    const itemPath = keyPath(path, name);
    if (!check(name, itemPath)) continue;
    const parsed = read(item, itemPath);
    // defineProperty: a name such as `__proto__` stays an ordinary key.
    if (parsed !== undefined)
      Object.defineProperty(result, name, {
        value: parsed,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  }
  return result;
}

/** Reports `message` when `missing` holds; the check function of namedEntries. */
function declaredOr(r: Reader, missing: boolean, path: string, message: string): boolean {
  if (missing) r.issue(path, message);
  return !missing;
}

function readExpectedSignal(r: Reader, value: unknown, path: string, known: Known): ExpectedSignal {
  const g = r.mapping(value, path, ['pid', 'signo', 'code', 'addr', 'lsb']);
  if (g === undefined) return {} as ExpectedSignal;
  const signal: Partial<ExpectedSignal> = {};
  signal.pid = readDeclaredPid(r, g, known.pids)?.pid;
  signal.signo = g.take('signo', { default: 'SIGBUS' as const }, r.oneOf(SIGNAL_NAMES));
  signal.code = g.take('code', REQUIRED, r.oneOf(SI_CODES));
  signal.addr = g.take('addr', OPTIONAL, r.integer({ size: true }));
  signal.lsb = g.take('lsb', OPTIONAL, (v, p) => {
    const lsb = r.count()(v, p);
    if (lsb !== undefined && !SIGNAL_LSBS.includes(lsb)) {
      r.issue(p, `expected ${SIGNAL_LSBS.join(', ')} (PAGE_SHIFT, PMD_SHIFT, PUD_SHIFT), got ${lsb}`);
    }
    return lsb;
  });
  if (g.has('lsb') && signal.code !== undefined && !signal.code.startsWith('BUS_MCEERR_')) {
    r.issue(
      g.at('lsb'),
      `lsb is present only on BUS_MCEERR_AR and BUS_MCEERR_AO signals, not on ${signal.code}`,
    );
  }
  return signal as ExpectedSignal;
}

function readExpectedFs(r: Reader, value: unknown, path: string): ExpectedFs | undefined {
  const g = r.mapping(value, path, ['shutdown', 'frozen', 'dax', 'mountError']);
  if (g === undefined) return undefined;
  const fs: ExpectedFs = {};
  const shutdown = g.take('shutdown', OPTIONAL, r.oneOf(SHUTDOWN_NAMES));
  const frozen = g.take('frozen', OPTIONAL, r.oneOf(['none', 'user'] as const));
  const dax = g.take('dax', OPTIONAL, (v, p) => r.boolean(v, p));
  if (shutdown !== undefined) fs.shutdown = shutdown;
  if (frozen !== undefined) fs.frozen = frozen;
  if (dax !== undefined) fs.dax = dax;
  // `mountError: null` states that the mount succeeded, so null is a value here.
  if (g.map.has('mountError')) {
    const raw = g.get('mountError');
    const errno = raw === null || raw === 'none' ? null : r.errno(raw, g.at('mountError'));
    if (errno !== undefined) fs.mountError = errno;
  }
  return fs;
}

function readExpectedDevice(
  r: Reader,
  value: unknown,
  path: string,
  known: Known,
): ExpectedDevice | undefined {
  const g = r.mapping(value, path, ['alive', 'holder']);
  if (g === undefined) return undefined;
  const device: ExpectedDevice = {};
  const alive = g.take('alive', OPTIONAL, (v, p) => r.boolean(v, p));
  const holder = g.take('holder', OPTIONAL, (v, p) => {
    const name = r.name(v, p);
    if (name === undefined || name === 'none' || known.filesystems.get(name) !== undefined) return name;
    const kind = known.devices.get(name)?.kind;
    if (kind === 'dm') return name;
    if (kind === undefined && !(known.devices.lacks(name) && known.filesystems.lacks(name))) return name;
    const what = kind === undefined ? '' : `, which is ${KIND_TEXT[kind]}`;
    r.issue(p, `expected none, a filesystem or a dm device, got ${JSON.stringify(name)}${what}`);
    return undefined;
  });
  if (alive !== undefined) device.alive = alive;
  if (holder !== undefined) device.holder = holder;
  return device;
}

function readExpectedPte(r: Reader, value: unknown, path: string, known: Known): ExpectedPte {
  const g = r.mapping(value, path, ['pid', 'addr', 'present']);
  if (g === undefined) return {} as ExpectedPte;
  const process = readDeclaredPid(r, g, known.pids);
  const addr = g.take('addr', REQUIRED, r.integer({ size: true }));
  const present = g.take('present', REQUIRED, (v, p) => r.boolean(v, p));
  if (
    addr !== undefined &&
    checkPageAligned(r, g.at('addr'), addr) &&
    process !== undefined &&
    firstUnmapped(process, addr, addr + 1n) !== undefined
  ) {
    r.issue(
      g.at('addr'),
      `${formatHex(addr)} is outside every mapping of pid ${process.pid} (${mappingsText(process)})`,
    );
  }
  return { pid: process?.pid, addr, present } as ExpectedPte;
}

function readExpect(r: Reader, top: Fields, known: Known): ExpectSpec | undefined {
  const f = top.mapping('expect', [
    'injections',
    'signals',
    'actionResults',
    'filesystems',
    'devices',
    'pages',
    'ptes',
    'incidents',
  ]);
  if (f === undefined) return undefined;
  const expect: ExpectSpec = {};
  if (f.has('incidents')) {
    // Incident and trace ids are not compared between modes; id and status are.
    expect.incidents = r.entries(f, 'incidents', (value, path) => {
      const g = r.mapping(value, path, ['id', 'incident', 'traceId', 'status']);
      const id = g?.take('id', REQUIRED, (v, p) => r.name(numberAsText(v), p));
      if (id !== undefined && known.injectionIds.lacks(id)) r.issue(keyPath(path, 'id'), `no injection has id '${id}'`);
      g?.take('incident', OPTIONAL, (v, p) => r.text(v, p));
      g?.take('traceId', OPTIONAL, (v, p) => r.text(v, p));
      const status = g?.take('status', OPTIONAL, r.oneOf(['complete', 'not-run'] as const));
      return { id, status } as NonNullable<ExpectSpec['incidents']>[number];
    });
  }
  const pfn = r.integer({ max: PFN_MAX });

  const injections = namedEntries(
    r,
    f,
    'injections',
    (id, path) => declaredOr(r, known.injectionIds.lacks(id), path, `no injection has id '${id}'`),
    (value, path) => {
      const rc = r.mapping(value, path, ['rc'])?.take('rc', REQUIRED, (v, p) => r.rc(v, p));
      return rc === undefined ? undefined : { rc };
    },
  );
  if (injections !== undefined) expect.injections = injections;
  if (f.has('signals'))
    expect.signals = r.entries(f, 'signals', (v, p) => readExpectedSignal(r, v, p, known));
  if (f.has('actionResults')) {
    expect.actionResults = r.entries(f, 'actionResults', (value, path) => {
      const g = r.mapping(value, path, ['pfn', 'type', 'result']);
      return {
        pfn: g?.take('pfn', REQUIRED, pfn),
        type: g?.take('type', REQUIRED, (v, p) => r.text(v, p)),
        result: g?.take('result', REQUIRED, r.oneOf(MF_RESULTS)),
      } as NonNullable<ExpectSpec['actionResults']>[number];
    });
  }
  const filesystems = namedEntries(
    r,
    f,
    'filesystems',
    (name, path) => declaredOr(r, known.filesystems.lacks(name), path, `no filesystem named '${name}'`),
    (v, p) => readExpectedFs(r, v, p),
  );
  if (filesystems !== undefined) expect.filesystems = filesystems;
  const devices = namedEntries(
    r,
    f,
    'devices',
    (name, path) => {
      const kind = known.devices.get(name)?.kind;
      if (kind === 'partition')
        return declaredOr(
          r,
          true,
          path,
          `'${name}' is a partition; devices lists pmem namespaces and dm devices`,
        );
      return declaredOr(r, known.devices.lacks(name), path, `no pmem namespace or dm device named '${name}'`);
    },
    (v, p) => readExpectedDevice(r, v, p, known),
  );
  if (devices !== undefined) expect.devices = devices;
  if (f.has('pages')) {
    expect.pages = r.entries(f, 'pages', (value, path) => {
      const g = r.mapping(value, path, ['pfn', 'hwpoison']);
      return {
        pfn: g?.take('pfn', REQUIRED, pfn),
        hwpoison: g?.take('hwpoison', REQUIRED, (v, p) => r.boolean(v, p)),
      } as NonNullable<ExpectSpec['pages']>[number];
    });
  }
  if (f.has('ptes')) expect.ptes = r.entries(f, 'ptes', (v, p) => readExpectedPte(r, v, p, known));
  return expect;
}

// ---------------------------------------------------------------------------------------------
// Limits on the whole file (SCENARIO_LIMITS)

/** Mapped and faulted pages summed over every mapping of every process; the first entry past a limit is named. */
function checkPageTotals(r: Reader, processes: ProcessDraft[]): void {
  let mapped = 0;
  let faulted = 0;
  let mappedReported = false;
  let faultedReported = false;
  for (const process of processes) {
    for (const m of process.mmaps) {
      mapped += m.pages ?? 0;
      faulted += m.faulted?.length ?? 0;
      if (!mappedReported && mapped > SCENARIO_LIMITS.mappedPages) {
        mappedReported = true;
        r.issue(
          keyPath(m.entry, 'pages'),
          `the mappings of all processes up to here hold ${mapped} pages; the total over all mappings is limited to ` +
            `${SCENARIO_LIMITS.mappedPages} pages (512 MiB), since the outcome lists every mapped page`,
        );
      }
      if (!faultedReported && faulted > SCENARIO_LIMITS.faultedPages) {
        faultedReported = true;
        r.issue(
          keyPath(m.entry, 'faulted'),
          `the mappings of all processes up to here fault ${faulted} pages in; the total over all mappings is limited to ` +
            `${SCENARIO_LIMITS.faultedPages} faulted pages`,
        );
      }
    }
  }
}

/** Pages injected over all injections: madvise counts its pages, every other pfn or address injection one. */
function checkInjectedTotal(r: Reader, injections: InjectionDraft[]): void {
  let injected = 0;
  for (const injection of injections) {
    const spec = injection.spec;
    if (spec === undefined || spec.kind === 'unbind') continue;
    injected += spec.kind === 'madvise' ? spec.pages : 1;
    if (injected > SCENARIO_LIMITS.injectedPages) {
      r.issue(
        spec.kind === 'madvise' ? keyPath(keyPath(injection.entry, 'madvise'), 'pages') : injection.entry,
        `the injections up to here inject ${injected} pages; the total over all injections is limited to ` +
          `${SCENARIO_LIMITS.injectedPages} pages`,
      );
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Entry point

function readSysctl(r: Reader, top: Fields): Scenario['sysctl'] {
  const f = top.mapping('sysctl', ['memoryFailureEarlyKill', 'memoryFailureRecovery']);
  const flag = (key: string, fallback: 0 | 1): 0 | 1 => {
    const value = f?.take(key, { default: BigInt(fallback) }, r.integer({ max: 1n }));
    return value === 1n ? 1 : value === 0n ? 0 : fallback;
  };
  return {
    memoryFailureEarlyKill: flag('memoryFailureEarlyKill', 0),
    memoryFailureRecovery: flag('memoryFailureRecovery', 1),
  };
}

/**
 * The YAML of a scenario file as plain JSON-like data (objects, arrays, numbers, strings), for
 * checking it against the JSON Schema; parseScenario is the reader that decides what a file means.
 */
export function scenarioYamlToPlain(text: string): unknown {
  return parseDocument(text, { merge: true, resolveKnownTags: false }).toJS({ maxAliasCount: 1000 });
}

/**
 * Parses the text of one scenario file. `file` is only used to label the result and the
 * issues. Returns the Scenario with every default applied, or every issue found.
 */
export function parseScenario(text: string, file: string): ParseScenarioResult {
  const r = new Reader(file);
  const root = readYaml(r, text);
  if (root === undefined) return { ok: false, issues: r.issues };
  if (!(root instanceof Map)) {
    r.issue(
      '',
      `expected a mapping at the top of the file (name, pmem, filesystems, …), got ${describeValue(root)}`,
    );
    return { ok: false, issues: r.issues };
  }
  // Generated sections (generate.ts) become ordinary entries first, validated like the rest.
  expandGenerated(root as Map<string, unknown>, (path, message) => r.issue(path, message));
  const top = r.mapping(root, '', TOP_KEYS)!;
  const name = top.take('name', REQUIRED, (v, p) => r.text(v, p));
  const description = top.take('description', { default: '' }, (v, p) => r.string(v, p));
  const sysctl = readSysctl(r, top);
  const hwpoisonFilter = top.take('hwpoisonFilter', { default: false }, (v, p) => r.boolean(v, p));
  const unbindStrategy = top.take('unbindStrategy', { default: 'rmap' as const }, r.oneOf(['rmap', 'pfn-walk', 'inode-walk'] as const));

  const known: Known = {
    devices: new Index(),
    filesystems: new Index(),
    pids: new Index(),
    injectionIds: new Index(),
  };
  const pmem = readPmem(r, top, known.devices);
  const dm = readDm(r, top, known.devices);
  const filesystems = readFilesystems(r, top, known.devices, known.filesystems);
  const processes = readProcesses(r, top, known.filesystems, known.pids);
  checkPageTotals(r, processes);
  const injections = readInjections(r, top, known.pids, known.devices, known.injectionIds);
  checkInjectedTotal(r, injections);
  const expect = readExpect(r, top, known);

  if (r.issues.length > 0) return { ok: false, issues: r.issues };
  // With no issue, every draft field holds its value; the drafts only drop their entry paths.
  const scenario: Scenario = {
    name: name!,
    description: description!,
    file,
    sysctl,
    hwpoisonFilter: hwpoisonFilter!,
    ...(unbindStrategy && unbindStrategy !== 'rmap' ? { unbindStrategy } : {}),
    pmem: pmem.map(({ entry: _e, badblocks, partitions, ...rest }) => ({
      ...(rest as Omit<PmemSpec, 'badblocks' | 'partitions'>),
      badblocks: badblocks.map(({ entry: _b, ...bb }) => bb as PmemSpec['badblocks'][number]),
      partitions: partitions.map(({ entry: _p, ...part }) => part as PmemSpec['partitions'][number]),
    })),
    dm: dm.map(({ entry: _e, table, ...rest }) => ({
      ...(rest as Omit<DmSpec, 'table'>),
      table: table.map(({ entry: _t, ...target }) => target as DmTargetSpec),
    })),
    filesystems: filesystems.map(({ entry: _e, metadata, cowStaging, files, ...rest }) => ({
      ...(rest as Omit<FilesystemSpec, 'metadata' | 'cowStaging' | 'files'>),
      logDevice: rest.logDevice,
      agCount: rest.agCount,
      metadata: metadata.map(({ entry: _m, ...m }) => m as FilesystemSpec['metadata'][number]),
      cowStaging: cowStaging.map(({ entry: _c, owner: _o, ...c }) => c as BlockRange),
      files: files.map(({ entry: _f, extents, attrBlocks, bmbtBlocks, ...fileRest }) => ({
        ...(fileRest as Omit<FileSpec, 'extents' | 'attrBlocks' | 'bmbtBlocks'>),
        extents: extents.map(({ entry: _x, ...x }) => x as ExtentSpec),
        attrBlocks: attrBlocks.map(({ entry: _a, owner: _o, ...a }) => a as BlockRange),
        bmbtBlocks: bmbtBlocks.map(({ entry: _b, owner: _o, ...b }) => b as BlockRange),
      })),
    })),
    processes: processes.map(({ entry: _e, mmaps, ...rest }) => ({
      ...(rest as Omit<ProcessSpec, 'mmaps'>),
      mmaps: mmaps.map(({ entry: _m, ...m }) => m as MmapSpec),
    })),
    injections: injections.map((i) => i.spec!),
    expect,
  };
  return { ok: true, scenario };
}
