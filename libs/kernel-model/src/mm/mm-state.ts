/**
 * mm-process state: tasks and their VMAs, page tables, the DAX entries of each file mapping
 * (fs/dax.c), the folio association those entries create, PageHWPoison, and what the
 * failure path reports (signals sent and action_result records).
 */
import type { Errno } from '../errno';
import type { MfResult, SiCode, SignalName } from '../mf';
import { PAGE_SHIFT, PG_PMD_MASK, PG_PMD_NR } from '../units';
import type { MappingId } from '../types';
import { Xarray } from './xarray';

export interface Vma {
  readonly start: bigint;
  readonly pages: bigint;
  /** File page of the first mapped page (vm_pgoff). */
  readonly pgoff: bigint;
  readonly mapping: MappingId;
  readonly fs: string;
  readonly ino: bigint;
  readonly path: string;
  readonly shared: boolean;
  /** The mapping may use 2 MiB PMD entries. */
  readonly pmd: boolean;
}

export interface Task {
  readonly pid: number;
  readonly comm: string;
  /** prctl(PR_MCE_KILL): 'default' (no PF_MCE_PROCESS), 'early' or 'late'. */
  readonly mceKill: 'default' | 'early' | 'late';
  readonly capSysAdmin: boolean;
  readonly vmas: Vma[];
}

/** A present page-table entry. `pfn` is null for page-cache or zero pages (not pmem). */
export interface Pte {
  readonly pfn: bigint | null;
  readonly kind: 'dax' | 'zero' | 'pagecache';
  readonly level: 'pte' | 'pmd';
}

/** A DAX entry in a mapping's xarray: a pfn entry (PTE or PMD) or the zero page. */
export interface DaxEntry {
  /** First index the entry covers (PMD entries are 512-aligned). */
  readonly index: bigint;
  readonly pfn: bigint | null;
  readonly pmd: boolean;
  readonly zero: boolean;
}

/** A folio's DAX association (6.15+): mapping + index, or shared (mapping null, share > 0). */
export interface Folio {
  readonly pfn: bigint;
  order: 0 | 9;
  mapping: MappingId | null;
  index: bigint;
  share: number;
}

export interface SignalRecord {
  readonly pid: number;
  readonly signo: SignalName;
  readonly code: SiCode;
  readonly addr: bigint | null;
  readonly lsb: number | null;
}

export interface ActionResultRecord {
  readonly pfn: bigint;
  readonly type: string;
  readonly result: MfResult;
}

export interface MmState {
  readonly sysctl: { memoryFailureEarlyKill: 0 | 1; memoryFailureRecovery: 0 | 1 };
  /** debugfs hwpoison filter enabled and excluding DAX pages. */
  readonly hwpoisonFilter: boolean;
  /** Tasks in creation order (for_each_process). Add them with `mmAddTask`. */
  readonly tasks: Task[];
  /** pid → task (find_task_by_vpid(): the pid hash). */
  readonly pids: Map<number, Task>;
  /** mapping->i_mmap: every VMA of each file mapping, in task order then VMA order. */
  readonly iMmap: Map<MappingId, { readonly task: Task; readonly vma: Vma }[]>;
  /** pid → page-aligned user address → present entry. */
  readonly pageTables: Map<number, Map<bigint, Pte>>;
  /** mapping → its xarray: index → entry (a PMD entry is stored at its aligned index only). */
  readonly daxEntries: Map<MappingId, Xarray<DaxEntry>>;
  /** head pfn → folio, for folios that ever got associated. */
  readonly folios: Map<bigint, Folio>;
  readonly hwpoison: Set<bigint>;
  /** Set when a real (not MF_SW_SIMULATED) failure was seen: unpoison is refused after it. */
  hwMemoryFailure: boolean;
  numPoisonedPages: number;
  readonly signals: SignalRecord[];
  readonly actionResults: ActionResultRecord[];
}

export function createMmState(opts: {
  sysctl: { memoryFailureEarlyKill: 0 | 1; memoryFailureRecovery: 0 | 1 };
  hwpoisonFilter: boolean;
}): MmState {
  return {
    sysctl: { ...opts.sysctl },
    hwpoisonFilter: opts.hwpoisonFilter,
    tasks: [],
    pids: new Map(),
    iMmap: new Map(),
    pageTables: new Map(),
    daxEntries: new Map(),
    folios: new Map(),
    hwpoison: new Set(),
    hwMemoryFailure: false,
    numPoisonedPages: 0,
    signals: [],
    actionResults: [],
  };
}

/** A new process with its file mappings (fork + mmap), entered in each mapping's i_mmap. */
export function mmAddTask(mm: MmState, task: Task): void {
  mm.tasks.push(task);
  mm.pids.set(task.pid, task);
  for (const vma of task.vmas) getOrCreate(mm.iMmap, vma.mapping, () => []).push({ task, vma });
}

/** The VMAs of a mapping (vma_interval_tree over i_mmap), in task order. */
export function mappingVmas(mm: MmState, mapping: MappingId): readonly { readonly task: Task; readonly vma: Vma }[] {
  return mm.iMmap.get(mapping) ?? [];
}

export function findTask(mm: MmState, pid: number): Task | undefined {
  return mm.pids.get(pid);
}

/** A task's VMAs by start address (the mm's maple tree), derived once per VMA list. */
const vmasByStart = new WeakMap<readonly Vma[], readonly Vma[]>();

/** find_vma() proper: the VMA holding addr, by binary search over the VMAs in address order. */
export function findVma(task: Task, addr: bigint): Vma | undefined {
  let sorted = vmasByStart.get(task.vmas);
  if (!sorted || sorted.length !== task.vmas.length) {
    sorted = [...task.vmas].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
    vmasByStart.set(task.vmas, sorted);
  }
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((sorted[mid] as Vma).start <= addr) lo = mid + 1;
    else hi = mid;
  }
  // VMAs of a task do not overlap (the format checks it); the last one starting at or below addr.
  const v = sorted[lo - 1];
  return v && addr < v.start + (v.pages << PAGE_SHIFT) ? v : undefined;
}

/** linear_page_index(): the file page an address of this VMA maps. */
export function vmaPgoff(vma: Vma, addr: bigint): bigint {
  return vma.pgoff + ((addr - vma.start) >> PAGE_SHIFT);
}

/** vma_address(): the user address of file page pgoff in this VMA, or null if outside it. */
export function vmaAddress(vma: Vma, pgoff: bigint): bigint | null {
  if (pgoff < vma.pgoff || pgoff >= vma.pgoff + vma.pages) return null;
  return vma.start + ((pgoff - vma.pgoff) << PAGE_SHIFT);
}

export function pageAlign(addr: bigint): bigint {
  return addr & ~((1n << PAGE_SHIFT) - 1n);
}

function getOrCreate<K, V>(map: Map<K, V>, key: K, create: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = create();
    map.set(key, value);
  }
  return value;
}

/** A task's page table. */
/**
 * A Map that counts its changes (`gen`), like the xarray's: a host re-encodes a page table only
 * when it changed. Behaves as a Map in every other way.
 */
export class GenMap<K, V> extends Map<K, V> {
  gen = 0;
  override set(key: K, value: V): this {
    this.gen++;
    return super.set(key, value);
  }
  override delete(key: K): boolean {
    const had = super.delete(key);
    if (had) this.gen++;
    return had;
  }
  override clear(): void {
    this.gen++;
    super.clear();
  }
}

export function ptesOf(mm: MmState, pid: number): Map<bigint, Pte> {
  return getOrCreate(mm.pageTables, pid, () => new GenMap<bigint, Pte>());
}

export function lookupPte(mm: MmState, pid: number, addr: bigint): Pte | undefined {
  return mm.pageTables.get(pid)?.get(pageAlign(addr));
}

/** A mapping's DAX entries (its xarray). */
export function entriesOf(mm: MmState, mapping: MappingId): Xarray<DaxEntry> {
  return getOrCreate(mm.daxEntries, mapping, () => new Xarray<DaxEntry>());
}

/** The entry covering `index`: a PTE/zero entry at index, or a PMD entry at the aligned index. */
export function lookupDaxEntry(mm: MmState, mapping: MappingId, index: bigint): DaxEntry | undefined {
  const entries = mm.daxEntries.get(mapping);
  if (!entries) return undefined;
  const own = entries.get(index);
  if (own) return own;
  const pmd = entries.get(index & PG_PMD_MASK);
  return pmd?.pmd ? pmd : undefined;
}

/**
 * The DAX entries of a mapping that cover indexes [first, last], in index order, each with the
 * indexes it covers there: what looking up every index in turn (lookupDaxEntry) finds, at the
 * cost of the entries present rather than of the range's length.
 */
export function daxEntriesInRange(mm: MmState, mapping: MappingId, first: bigint, last: bigint): { entry: DaxEntry; first: bigint; last: bigint }[] {
  const entries = mm.daxEntries.get(mapping);
  const out: { entry: DaxEntry; first: bigint; last: bigint }[] = [];
  if (!entries || last < first || entries.size === 0) return out;
  if (last - first < 16n) {
    // A short range: look every index up, as the kernel does.
    for (let i = first; i <= last; i++) {
      const entry = lookupDaxEntry(mm, mapping, i);
      if (!entry) continue;
      const prev = out[out.length - 1];
      if (prev && prev.entry === entry && prev.last === i - 1n) prev.last = i;
      else out.push({ entry, first: i, last: i });
    }
    return out;
  }
  // A PMD entry covering `first` sits at first's 2 MiB-aligned index; the rest are in range.
  const head = first & PG_PMD_MASK;
  const pmdHead = head < first ? entries.get(head) : undefined;
  const hits: [bigint, DaxEntry][] = pmdHead?.pmd ? [[head, pmdHead]] : [];
  for (const hit of entries.rangeEntries(first, last)) hits.push(hit);
  for (const [index, entry] of hits) {
    const end = entry.pmd ? index + PG_PMD_NR - 1n : index;
    if (end < first) continue;
    const lo = index > first ? index : first;
    const hi = end < last ? end : last;
    if (!entry.pmd) {
      out.push({ entry, first: lo, last: hi });
      continue;
    }
    // A PTE entry of its own inside a PMD entry's span wins the lookup for that index.
    let runStart = lo;
    for (let i = lo; i <= hi; i++) {
      if (i !== index && entries.get(i) !== undefined) {
        if (i > runStart) out.push({ entry, first: runStart, last: i - 1n });
        runStart = i + 1n;
      }
    }
    if (runStart <= hi) out.push({ entry, first: runStart, last: hi });
  }
  out.sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  return out;
}

/** pfn_folio(): the folio holding pfn (a 2 MiB folio of a PMD entry, or its own page). */
export function pfnFolio(mm: MmState, pfn: bigint): Folio {
  const head = mm.folios.get(pfn & PG_PMD_MASK);
  if (head && head.order === 9) return head;
  const own = mm.folios.get(pfn);
  if (own) return own;
  const folio: Folio = { pfn, order: 0, mapping: null, index: 0n, share: 0 };
  mm.folios.set(pfn, folio);
  return folio;
}

/** Whether a process takes early kills (find_early_kill_thread() for a single-thread process). */
export function taskIsEarlyKill(mm: MmState, task: Task): boolean {
  if (task.mceKill === 'early') return true;
  if (task.mceKill === 'late') return false;
  return mm.sysctl.memoryFailureEarlyKill === 1;
}

export type FaultResult = { readonly ok: true } | { readonly ok: false; readonly vmFault: 'SIGBUS' | 'HWPOISON'; readonly errno: Errno };
