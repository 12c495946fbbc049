/**
 * mm/memory-failure.c for ZONE_DEVICE (fs-DAX) pages: memory_failure(),
 * memory_failure_dev_pagemap(), the holder-path mf_dax_kill_procs() and the generic
 * page->mapping fallback mf_generic_kill_procs(), with the shared collect → unmap → kill
 * machinery and action_result().
 */
import { invoke, KernelPanic, printk, type Hop, type TaskCtx } from '../effects';
import type { Rc } from '../errno';
import { hasFlag, MF, MF_MSG_DAX, MF_RESULT, type MfResult } from '../mf';
import { hex, PAGE_SHIFT, PMD_SHIFT } from '../units';
import type { MappingId } from '../types';
import { unmapMappingPages } from './fault';
import {
  daxEntriesInRange,
  lookupDaxEntry,
  lookupPte,
  mappingVmas,
  pfnFolio,
  taskIsEarlyKill,
  vmaAddress,
  type Folio,
  type MmState,
  type Task,
} from './mm-state';

/** struct to_kill. */
export interface ToKill {
  readonly task: Task;
  readonly addr: bigint;
  /** si_addr_lsb: 12, 21, or 0 when nothing is mapped there. */
  readonly sizeShift: number;
}

/**
 * Models memory_failure() for a pfn that is not online System RAM (pmem pages never are):
 * panic when vm.memory_failure_recovery is 0; a pfn with a dev_pagemap goes to
 * memory_failure_dev_pagemap(); anything else is memory outside kernel control (-ENXIO, no
 * action_result). The "already poisoned" check comes after this branch in the kernel, so it
 * never applies to DAX pages: a second failure on the same pfn runs the whole chain again.
 */
export function* memoryFailure(mm: MmState, args: { pfn: bigint; mfFlags: number }): Hop<Rc> {
  if (mm.sysctl.memoryFailureRecovery === 0) {
    yield* printk('mm', 'emerg', `Kernel panic - not syncing: Memory failure on page ${args.pfn.toString(16)}`);
    throw new KernelPanic(`Memory failure on page ${args.pfn.toString(16)}`);
  }
  if (!hasFlag(args.mfFlags, MF.MF_SW_SIMULATED)) mm.hwMemoryFailure = true;
  const pgmap = yield* invoke('pmem.getDevPagemap', { pfn: args.pfn });
  if (pgmap) return yield* invoke('mm.memoryFailureDevPagemap', { pfn: args.pfn, mfFlags: args.mfFlags, disk: pgmap.disk, pfnValid: pgmap.pfnValid });
  yield* printk('mm', 'err', `Memory failure: ${hex(args.pfn)}: memory outside kernel control`);
  return 'ENXIO';
}

/**
 * Models memory_failure_dev_pagemap(): the metadata prefix is not recoverable (-ENXIO);
 * otherwise the driver's ->memory_failure (pmem → dax holder); only -EOPNOTSUPP falls back
 * to the generic path. Every result but -EOPNOTSUPP is recorded by action_result().
 */
export function* memoryFailureDevPagemap(
  mm: MmState,
  args: { pfn: bigint; mfFlags: number; disk: string; pfnValid: boolean },
): Hop<Rc> {
  let rc: Rc = 'ENXIO';
  if (args.pfnValid) {
    rc = yield* invoke('pmem.pmemPagemapMemoryFailure', { disk: args.disk, pfn: args.pfn, nrPages: 1n, mfFlags: args.mfFlags });
    if (rc === 'EOPNOTSUPP') rc = yield* invoke('mm.mfGenericKillProcs', { pfn: args.pfn, mfFlags: args.mfFlags });
  }
  if (rc !== 'EOPNOTSUPP') yield* actionResult(mm, args.pfn, MF_MSG_DAX, rc === 0 ? MF_RESULT.MF_RECOVERED : MF_RESULT.MF_FAILED);
  return rc;
}

/**
 * Models action_result(): the one place that records the outcome, counts the page and logs
 * "recovery action for dax page: Recovered".
 */
function* actionResult(mm: MmState, pfn: bigint, type: string, result: MfResult): Hop<void> {
  mm.actionResults.push({ pfn, type, result });
  mm.numPoisonedPages += 1;
  yield* printk('mm', 'err', `Memory failure: ${hex(pfn)}: recovery action for ${type}: ${result}`);
}

/**
 * Models mf_generic_kill_procs(), the page->mapping path used when no holder answers:
 * dax_lock_folio() needs the folio associated with a DAX mapping — never faulted, metadata,
 * free and shared (reflinked, 6.15+) folios have none, so -EBUSY and nobody is told.
 */
export function* mfGenericKillProcs(mm: MmState, args: { pfn: bigint; mfFlags: number }, ctx: TaskCtx): Hop<Rc> {
  const folio = pfnFolio(mm, args.pfn);
  const mapping = folio.mapping;
  if (!mapping || !lookupDaxEntry(mm, mapping, folio.index)) {
    yield* printk('mm', 'debug', `dax_lock_folio(${hex(folio.pfn)}): no mapping${folio.share > 0 ? ` (shared by ${folio.share})` : ''}`);
    return 'EBUSY';
  }
  if (mm.hwpoisonFilter) return 'EOPNOTSUPP';
  // The page is remapped UC to stop speculative consumption of the poison.
  mm.hwpoison.add(folio.pfn);
  // Unlike System RAM there is no other page to swap in at that address: every consumer of a
  // ZONE_DEVICE page needs SIGBUS.
  const mfFlags = args.mfFlags | MF.MF_ACTION_REQUIRED | MF.MF_MUST_KILL;
  const toKill = collectProcsFile(mm, folio, mapping, ctx);
  yield* unmapAndKill(mm, toKill, args.pfn, mapping, folio.index, mfFlags, ctx);
  return 0;
}

/**
 * Models task_early_kill(tsk, force_early=1): the task that is `current` is always taken;
 * another only if it asked for early kills (or the sysctl says so and it set no policy).
 */
function taskEarlyKill(mm: MmState, task: Task, ctx: TaskCtx): boolean {
  return task.pid === ctx.current || taskIsEarlyKill(mm, task);
}

/** dev_pagemap_mapping_shift(): 12 for a present PTE, 21 for a PMD, 0 when nothing is mapped. */
function devPagemapMappingShift(mm: MmState, pid: number, addr: bigint): number {
  const pte = lookupPte(mm, pid, addr);
  if (!pte) return 0;
  return pte.level === 'pmd' ? Number(PMD_SHIFT) : Number(PAGE_SHIFT);
}

/**
 * Models collect_procs_file() as mf_generic_kill_procs() calls it (force_early): the page is
 * the folio's head, so its file page is folio->index; a VMA counts only where that page is
 * actually mapped (page_mapped_in_vma()).
 */
function collectProcsFile(mm: MmState, folio: Folio, mapping: MappingId, ctx: TaskCtx): ToKill[] {
  const toKill: ToKill[] = [];
  for (const { task, vma } of mappingVmas(mm, mapping)) {
    if (!taskEarlyKill(mm, task, ctx)) continue;
    const addr = vmaAddress(vma, folio.index);
    if (addr === null) continue;
    const pte = lookupPte(mm, task.pid, addr);
    if (!pte || pte.pfn !== folio.pfn) continue;
    toKill.push({ task, addr, sizeShift: devPagemapMappingShift(mm, task.pid, addr) });
  }
  return toKill;
}

/**
 * Models collect_procs_fsdax(): outside pre-remove only `current` and early-kill tasks; for
 * pre-remove every task, since `current` may not be the one using the page. A record whose
 * page is not mapped (shift 0) is dropped, so a VMA that never faulted the page gets nothing.
 */
function collectProcsFsdax(mm: MmState, mapping: MappingId, pgoff: bigint, preRemove: boolean, ctx: TaskCtx): ToKill[] {
  const toKill: ToKill[] = [];
  for (const { task, vma } of mappingVmas(mm, mapping)) {
    if (!preRemove && !taskEarlyKill(mm, task, ctx)) continue;
    const addr = vmaAddress(vma, pgoff);
    if (addr === null) continue;
    const sizeShift = devPagemapMappingShift(mm, task.pid, addr);
    if (sizeShift > 0) toKill.push({ task, addr, sizeShift });
  }
  return toKill;
}

/**
 * Models unmap_and_kill(): unmap the largest collected mapping size around the index in
 * EVERY process that maps the file (not only the collected ones), then kill_procs(). With
 * nobody collected nothing is unmapped.
 */
function* unmapAndKill(mm: MmState, toKill: ToKill[], pfn: bigint, mapping: MappingId, index: bigint, mfFlags: number, ctx: TaskCtx): Hop<void> {
  const maxShift = toKill.reduce((m, tk) => (tk.sizeShift > m ? tk.sizeShift : m), 0);
  if (maxShift > 0) {
    const size = 1n << BigInt(maxShift);
    const start = (index << PAGE_SHIFT) & ~(size - 1n);
    yield* unmapMappingPages(mm, mapping, start >> PAGE_SHIFT, size >> PAGE_SHIFT);
  }
  yield* killProcs(mm, toKill, hasFlag(mfFlags, MF.MF_MUST_KILL), pfn, mfFlags, ctx);
}

/** Models kill_procs(). Addresses are always valid on the fs-DAX path, so no SIGKILL. */
function* killProcs(mm: MmState, toKill: ToKill[], forcekill: boolean, pfn: bigint, mfFlags: number, ctx: TaskCtx): Hop<void> {
  if (!forcekill) return;
  for (const tk of toKill) yield* killProc(mm, tk, pfn, mfFlags, ctx);
}

/**
 * Models kill_proc(): a forced BUS_MCEERR_AR to `current` when the action is required,
 * otherwise an advisory BUS_MCEERR_AO. si_addr is the task's own address of the page,
 * si_addr_lsb the mapping shift.
 */
function* killProc(mm: MmState, tk: ToKill, pfn: bigint, mfFlags: number, ctx: TaskCtx): Hop<void> {
  yield* printk('mm', 'err', `Memory failure: ${hex(pfn)}: Sending SIGBUS to ${tk.task.comm}:${tk.task.pid} due to hardware memory corruption`);
  const ar = hasFlag(mfFlags, MF.MF_ACTION_REQUIRED) && tk.task.pid === ctx.current;
  const code = ar ? 'BUS_MCEERR_AR' : 'BUS_MCEERR_AO';
  mm.signals.push({ pid: tk.task.pid, signo: 'SIGBUS', code, addr: tk.addr, lsb: tk.sizeShift });
  yield* printk('mm', 'debug', `→ SIGBUS ${code} si_addr=${hex(tk.addr)} si_addr_lsb=${tk.sizeShift} to ${tk.task.comm}:${tk.task.pid}${ar ? ' (forced)' : ''}`);
}

/**
 * Models mf_dax_kill_procs(), what XFS calls for each file range the rmap walk found. For
 * each index with a real DAX entry: mark the page HWPoison (not for pre-remove: the memory
 * is still good, access is only being revoked), collect, unmap, kill. Indexes without an
 * entry (never faulted, holes) are skipped.
 */
export function* mfDaxKillProcs(mm: MmState, args: { mapping: MappingId; pgoff: bigint; pgcnt: bigint; mfFlags: number }, ctx: TaskCtx): Hop<Rc> {
  const preRemove = hasFlag(args.mfFlags, MF.MF_MEM_PRE_REMOVE);
  const mfFlags = args.mfFlags | MF.MF_ACTION_REQUIRED | MF.MF_MUST_KILL;
  // The kernel looks up every index in turn; indexes without an entry are skipped, so walking
  // the entries present in the range (xa_for_each_range) visits the same indexes in order.
  for (const span of daxEntriesInRange(mm, args.mapping, args.pgoff, args.pgoff + args.pgcnt - 1n)) {
    const { entry } = span;
    if (entry.zero || entry.pfn === null) continue;
    for (let index = span.first; index <= span.last; index++) {
      // A PMD entry yields the head page of its 2 MiB block (kernel-semantics §7 Q2).
      const page = entry.pfn;
      if (!preRemove) mm.hwpoison.add(page);
      const toKill = collectProcsFsdax(mm, args.mapping, index, preRemove, ctx);
      yield* unmapAndKill(mm, toKill, page, args.mapping, index, mfFlags, ctx);
    }
  }
  return 0;
}

