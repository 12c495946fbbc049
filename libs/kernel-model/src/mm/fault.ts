/**
 * Page faults on DAX file mappings (fs/dax.c: dax_iomap_pte_fault / _pmd_fault,
 * dax_insert_entry, dax_associate_entry / dax_disassociate_entry) and the page-table zaps
 * (unmap_mapping_pages, invalidate_inode_pages2_range).
 */
import { invoke, printk, type Hop } from '../effects';
import type { Errno, Rc } from '../errno';
import { hex, PAGE_SHIFT, PG_PMD_MASK, PG_PMD_NR } from '../units';
import type { MappingId } from '../types';
import {
  entriesOf,
  findTask,
  findVma,
  lookupDaxEntry,
  mappingVmas,
  pageAlign,
  pfnFolio,
  ptesOf,
  vmaAddress,
  vmaPgoff,
  type DaxEntry,
  type FaultResult,
  type MmState,
  type Task,
  type Vma,
} from './mm-state';

/**
 * Models unmap_mapping_pages(mapping, start, nr, even_cows=false): zap every process's page
 * table entries for file pages [start, start+nr). A PMD mapping touched anywhere goes whole
 * (a DAX PMD is zapped, not split). Private pages already copied on write would be kept;
 * the model has no writes, so there are none.
 */
export function* unmapMappingPages(mm: MmState, mapping: MappingId, start: bigint, nr: bigint): Hop<void> {
  let zapped = 0;
  for (const { task, vma } of mappingVmas(mm, mapping)) {
    const ptes = mm.pageTables.get(task.pid);
    if (!ptes) continue;
    const first = start > vma.pgoff ? start : vma.pgoff;
    const end = start + nr < vma.pgoff + vma.pages ? start + nr : vma.pgoff + vma.pages;
    for (let pgoff = first; pgoff < end; pgoff++) {
      const addr = vmaAddress(vma, pgoff) as bigint;
      const pte = ptes.get(addr);
      if (!pte) continue;
      if (pte.level === 'pmd') zapped += zapPmd(ptes, vma, addr);
      else if (ptes.delete(addr)) zapped++;
    }
  }
  if (zapped > 0) yield* printk('mm', 'debug', `unmap_mapping_pages(${mapping}, ${start}, ${nr}): ${zapped} page(s) unmapped`);
}

function zapPmd(ptes: Map<bigint, unknown>, vma: Vma, addr: bigint): number {
  const pmdSize = PG_PMD_NR << PAGE_SHIFT;
  const base = addr & ~(pmdSize - 1n);
  let n = 0;
  for (let a = base; a < base + pmdSize; a += 1n << PAGE_SHIFT) {
    if (a >= vma.start && ptes.delete(a)) n++;
  }
  return n;
}

/**
 * Models dax_associate_entry() (6.15+): the first mapping of a folio records mapping and
 * index; a later fault through another file with IOMAP_F_SHARED makes it shared (mapping
 * NULL) and counts the sharers.
 */
function daxAssociateEntry(mm: MmState, entry: DaxEntry, mapping: MappingId, shared: boolean): void {
  if (entry.zero || entry.pfn === null) return;
  const folio = pfnFolio(mm, entry.pfn);
  if (entry.pmd && folio.order === 0) {
    // dax_folio_init(): the 2 MiB entry's pages become one compound folio.
    folio.order = 9;
    for (let tail = entry.pfn + 1n; tail < entry.pfn + PG_PMD_NR; tail++) mm.folios.delete(tail);
  }
  if (shared && (folio.mapping !== null || folio.share > 0)) {
    if (folio.mapping !== null) {
      folio.mapping = null;
      folio.share = 1;
    }
    folio.share += 1;
  } else {
    folio.mapping = mapping;
    folio.index = entry.index;
    folio.share = 0;
  }
}

/**
 * Models dax_disassociate_entry() → dax_folio_put(): one sharer fewer; at none the mapping is
 * cleared and a 2 MiB folio splits back into pages.
 */
export function daxDisassociateEntry(mm: MmState, entry: DaxEntry | undefined): void {
  if (!entry || entry.zero || entry.pfn === null) return;
  const folio = pfnFolio(mm, entry.pfn);
  const ref = folio.mapping === null && folio.share > 0 ? --folio.share : 0;
  if (ref > 0) return;
  folio.mapping = null;
  folio.order = 0;
}

/**
 * Models dax_insert_entry(): a fault on a shared (reflinked) extent, or one replacing the
 * zero page, first unmaps that file index in every process (since 6.2); a new, zero, empty or
 * shared entry is (re)associated; an existing plain entry is kept.
 */
function* daxInsertEntry(mm: MmState, mapping: MappingId, old: DaxEntry | undefined, entry: DaxEntry, shared: boolean): Hop<DaxEntry> {
  if (shared || (old?.zero && !entry.pmd)) {
    if (old?.pmd) yield* unmapMappingPages(mm, mapping, entry.index & PG_PMD_MASK, PG_PMD_NR);
    else yield* unmapMappingPages(mm, mapping, entry.index, 1n);
  }
  if (shared || !old || old.zero) {
    daxDisassociateEntry(mm, old);
    daxAssociateEntry(mm, entry, mapping, shared);
    const entries = entriesOf(mm, mapping);
    if (old) entries.delete(old.index);
    entries.set(entry.index, entry);
    return entry;
  }
  return old;
}

function sigbus(errno: Errno): FaultResult {
  return { ok: false, vmFault: 'SIGBUS', errno };
}

/**
 * Models a read fault on a file mapping (handle_mm_fault → ->fault): the filesystem's iomap,
 * then dax_direct_access(), then dax_insert_entry() and the page-table entry. A shut-down fs
 * (-EIO) or a dead dax device (-ENXIO) gives VM_FAULT_SIGBUS; badblocks give
 * VM_FAULT_HWPOISON. A DAX fault never looks at PageHWPoison. PMD-capable mappings try a
 * 2 MiB fault first and fall back to 4 KiB the way dax_iomap_pmd_fault() does.
 */
export function* handleMmFault(mm: MmState, args: { pid: number; addr: bigint }): Hop<FaultResult> {
  const task = findTask(mm, args.pid);
  const vma = task ? findVma(task, args.addr) : undefined;
  if (!task || !vma) return sigbus('EFAULT');
  if (ptesOf(mm, task.pid).has(pageAlign(args.addr))) return { ok: true };
  if (vma.pmd) {
    const r = yield* daxPmdFault(mm, task, vma, args.addr);
    if (r !== 'fallback') return r;
  }
  return yield* daxPteFault(mm, task, vma, args.addr);
}

function* daxPteFault(mm: MmState, task: Task, vma: Vma, addr: bigint): Hop<FaultResult> {
  const pgoff = vmaPgoff(vma, addr);
  const page = pageAlign(addr);
  const ptes = ptesOf(mm, task.pid);
  const iomap = yield* invoke('xfs.xfsDaxIomapBegin', { fs: vma.fs, ino: vma.ino, pgoff, count: 1n });
  if (iomap.rc !== 0) return sigbus(iomap.rc);
  if (iomap.type === 'pagecache') {
    const rc = yield* invoke('xfs.xfsReadFolio', { fs: vma.fs, ino: vma.ino, pgoff });
    if (rc !== 0) return sigbus(rc);
    ptes.set(page, { pfn: null, kind: 'pagecache', level: 'pte' });
    return { ok: true };
  }
  let old = lookupDaxEntry(mm, vma.mapping, pgoff);
  if (old?.pmd && old.zero) {
    // grab_mapping_entry(): a 4 KiB fault inside a PMD zero entry downgrades it — the whole
    // 2 MiB is unmapped everywhere and the entry goes.
    yield* unmapMappingPages(mm, vma.mapping, old.index, PG_PMD_NR);
    entriesOf(mm, vma.mapping).delete(old.index);
    old = undefined;
  }
  if (iomap.type === 'hole') {
    if (!old) entriesOf(mm, vma.mapping).set(pgoff, { index: pgoff, pfn: null, pmd: false, zero: true });
    ptes.set(page, { pfn: null, kind: 'zero', level: 'pte' });
    return { ok: true };
  }
  const da = yield* invoke('dax.daxDirectAccess', { daxDev: iomap.daxDev, pgoff: iomap.daxPgoff, nrPages: 1n });
  if (da.rc === 'EHWPOISON') return { ok: false, vmFault: 'HWPOISON', errno: 'EHWPOISON' };
  if (da.rc !== 0) return sigbus(da.rc);
  // A PTE fault inside a live PMD entry uses that entry (grab_mapping_entry()).
  const entry: DaxEntry = old?.pmd && !old.zero && old.pfn !== null ? old : { index: pgoff, pfn: da.pfn, pmd: false, zero: false };
  const kept = yield* daxInsertEntry(mm, vma.mapping, old, entry, iomap.shared);
  const pfn = kept.pmd && kept.pfn !== null ? kept.pfn + (pgoff - kept.index) : da.pfn;
  ptes.set(page, { pfn, kind: 'dax', level: 'pte' });
  return { ok: true };
}

function* daxPmdFault(mm: MmState, task: Task, vma: Vma, addr: bigint): Hop<FaultResult | 'fallback'> {
  const index = vmaPgoff(vma, addr) & PG_PMD_MASK;
  const base = vmaAddress(vma, index);
  if (base === null || index + PG_PMD_NR > vma.pgoff + vma.pages) return 'fallback';
  const entries = entriesOf(mm, vma.mapping);
  for (let i = index; i < index + PG_PMD_NR; i++) {
    const e = entries.get(i);
    if (e && !(e.pmd && i === index)) return 'fallback';
  }
  const iomap = yield* invoke('xfs.xfsDaxIomapBegin', { fs: vma.fs, ino: vma.ino, pgoff: index, count: PG_PMD_NR });
  if (iomap.rc !== 0) return sigbus(iomap.rc);
  const ptes = ptesOf(mm, task.pid);
  if (iomap.type === 'hole' && iomap.count >= PG_PMD_NR) {
    // dax_pmd_load_hole(): a read of a 2 MiB hole maps the huge zero page.
    if (!entries.get(index)) entries.set(index, { index, pfn: null, pmd: true, zero: true });
    for (let i = 0n; i < PG_PMD_NR; i++) ptes.set(base + (i << PAGE_SHIFT), { pfn: null, kind: 'zero', level: 'pmd' });
    return { ok: true };
  }
  if (iomap.type !== 'mapped' || iomap.count < PG_PMD_NR) return 'fallback';
  const da = yield* invoke('dax.daxDirectAccess', { daxDev: iomap.daxDev, pgoff: iomap.daxPgoff, nrPages: PG_PMD_NR });
  if (da.rc === 'EHWPOISON') return 'fallback';
  if (da.rc !== 0) return sigbus(da.rc);
  if (da.nrPages < PG_PMD_NR || da.pfn % PG_PMD_NR !== 0n) return 'fallback';
  const old = entries.get(index);
  const kept = yield* daxInsertEntry(mm, vma.mapping, old, { index, pfn: da.pfn, pmd: true, zero: false }, iomap.shared);
  const head = kept.pfn ?? da.pfn;
  for (let i = 0n; i < PG_PMD_NR; i++) ptes.set(base + (i << PAGE_SHIFT), { pfn: head + i, kind: 'dax', level: 'pmd' });
  yield* printk('mm', 'debug', `dax_iomap_pmd_fault: ${task.comm}:${task.pid} ${hex(base)} -> pfn ${hex(head)} (2 MiB)`);
  return { ok: true };
}

/**
 * Models invalidate_inode_pages2_range() on a DAX mapping (pre-remove): each clean DAX entry
 * in the range is dropped and disassociated (nothing here is dirty: the model has no
 * writes), then the page tables of the whole range are zapped in every process.
 */
export function* invalidateInodePages2Range(mm: MmState, args: { mapping: MappingId; start: bigint; end: bigint }): Hop<Rc> {
  const entries = mm.daxEntries.get(args.mapping);
  if (entries) {
    // xa_for_each_range(): a PMD entry covering start sits at start's 2 MiB-aligned index.
    const head = args.start & PG_PMD_MASK;
    const pmdHead = head < args.start ? entries.get(head) : undefined;
    const hits: [bigint, DaxEntry][] = pmdHead?.pmd ? [[head, pmdHead]] : [];
    for (const hit of entries.rangeEntries(args.start, args.end)) hits.push(hit);
    for (const [index, entry] of hits) {
      const last = entry.pmd ? index + PG_PMD_NR - 1n : index;
      if (last < args.start || index > args.end) continue;
      daxDisassociateEntry(mm, entry);
      entries.delete(index);
    }
  }
  yield* unmapMappingPages(mm, args.mapping, args.start, args.end - args.start + 1n);
  return 0;
}
