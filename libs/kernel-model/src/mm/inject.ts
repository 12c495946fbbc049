/**
 * Where memory failures come from (kernel-semantics §1.0) and what a later access does:
 * madvise(MADV_HWPOISON), debugfs hwpoison/corrupt-pfn, an x86 machine check consumed by a
 * task (kill_me_maybe), a background error (uc_decode_notifier), and a plain load.
 */
import { invoke, memo, printk, type Hop, type TaskCtx } from '../effects';
import type { Rc } from '../errno';
import { MF } from '../mf';
import { hex, PAGE_SHIFT, PAGE_SIZE, pfnToPhys } from '../units';
import { findTask, lookupPte, type MmState } from './mm-state';

/**
 * Models madvise_inject_error(MADV_HWPOISON): CAP_SYS_ADMIN or -EPERM; then, page by page,
 * gup faults the page in and memory_failure(pfn, MF_ACTION_REQUIRED|MF_COUNT_INCREASED|
 * MF_SW_SIMULATED) runs once per 4 KiB page (kernel-semantics §1.0, §9). -EOPNOTSUPP counts
 * as success; any other error ends the loop and is madvise's errno. A gup whose fault fails
 * is -EFAULT (get_user_pages_fast asks no FOLL_HWPOISON, so VM_FAULT_HWPOISON is -EFAULT too).
 */
export function* madviseInjectError(mm: MmState, args: { pid: number; start: bigint; pages: bigint }): Hop<Rc> {
  const task = findTask(mm, args.pid);
  if (!task) throw new Error(`madvise: no task ${args.pid}`);
  if (args.start % PAGE_SIZE !== 0n) return 'EINVAL'; // do_madvise(): !PAGE_ALIGNED(start)
  if (!task.capSysAdmin) return 'EPERM';
  const end = args.start + (args.pages << PAGE_SHIFT);
  for (let addr = args.start; addr < end; ) {
    // get_user_pages_fast(): what it finds is remembered, since memory_failure() below
    // unmaps the very page it looked at.
    if (!(yield* memo(lookupPte(mm, task.pid, addr) !== undefined))) {
      const fault = yield* invoke('mm.handleMmFault', { pid: task.pid, addr });
      if (!fault.ok) return 'EFAULT';
    }
    const pte = yield* memo(lookupPte(mm, task.pid, addr));
    if (!pte || pte.kind !== 'dax' || pte.pfn === null) {
      yield* printk('mm', 'warn', `mfsim: madvise at ${hex(addr)} hits a ${pte?.kind ?? 'missing'} page; only DAX pages are modelled`);
      return 'EINVAL';
    }
    yield* printk('mm', 'info', `Injecting memory failure for pfn ${hex(pte.pfn)} at process virtual address ${hex(addr)}`);
    let rc = yield* invoke('mm.memoryFailure', { pfn: pte.pfn, mfFlags: MF.MF_ACTION_REQUIRED | MF.MF_COUNT_INCREASED | MF.MF_SW_SIMULATED });
    if (rc === 'EOPNOTSUPP') rc = 0;
    if (rc !== 0) return rc;
    addr += PAGE_SIZE;
  }
  return 0;
}

/**
 * Models debugfs hwpoison/corrupt-pfn (hwpoison_inject()): -ENXIO for a pfn without a memmap;
 * with the hwpoison filter enabled, non-LRU pages such as DAX pages are skipped (0, nothing
 * injected); otherwise memory_failure(pfn, MF_SW_SIMULATED), whose -EOPNOTSUPP becomes 0.
 * The writer is a shell, not a modelled process, so nobody is `current`.
 */
export function* hwpoisonInject(mm: MmState, args: { pfn: bigint }): Hop<Rc> {
  const pgmap = yield* invoke('pmem.getDevPagemap', { pfn: args.pfn });
  if (!pgmap) return 'ENXIO';
  if (mm.hwpoisonFilter) {
    yield* printk('mm', 'info', `hwpoison filter: skipping non-LRU pfn ${hex(args.pfn)}`);
    return 0;
  }
  yield* printk('mm', 'info', `Injecting memory failure at pfn ${hex(args.pfn)}`);
  const rc = yield* invoke('mm.memoryFailure', { pfn: args.pfn, mfFlags: MF.MF_SW_SIMULATED });
  return rc === 'EOPNOTSUPP' ? 0 : rc;
}

/**
 * Models an action-required machine check consumed by a task: the NFIT notifier records the
 * poisoned sectors as badblocks, then kill_me_maybe() runs memory_failure(pfn,
 * MF_ACTION_REQUIRED [| MF_MUST_KILL when RIPV is clear]). 0 → done; -EHWPOISON or
 * -EOPNOTSUPP → done; anything else → "Memory error not recovered" and a plain SIGBUS
 * (SI_KERNEL, no address) to the task.
 */
export function* doMachineCheck(mm: MmState, args: { pid: number; pfn: bigint; ripv: boolean }, ctx: TaskCtx): Hop<Rc> {
  yield* invoke('pmem.nvdimmAddBadrange', { pfn: args.pfn });
  yield* printk('mm', 'err', `mce: Uncorrected hardware memory error in user-access at ${pfnToPhys(args.pfn).toString(16)}`);
  const mfFlags = MF.MF_ACTION_REQUIRED | (args.ripv ? 0 : MF.MF_MUST_KILL);
  const rc = yield* invoke('mm.memoryFailure', { pfn: args.pfn, mfFlags });
  if (rc === 0 || rc === 'EHWPOISON' || rc === 'EOPNOTSUPP') return rc;
  yield* printk('mm', 'err', 'mce: Memory error not recovered');
  mm.signals.push({ pid: ctx.current ?? args.pid, signo: 'SIGBUS', code: 'SI_KERNEL', addr: null, lsb: null });
  return rc;
}

/**
 * Models a background error (patrol scrub, UCNA/SRAO) through uc_decode_notifier(): the
 * badblocks are recorded, then memory_failure(pfn, 0) runs in a kworker with no user task.
 */
export function* ucDecodeNotifier(_mm: MmState, args: { pfn: bigint }): Hop<Rc> {
  yield* invoke('pmem.nvdimmAddBadrange', { pfn: args.pfn });
  return yield* invoke('mm.memoryFailure', { pfn: args.pfn, mfFlags: 0 });
}

/**
 * A user fault by a task (the arch page-fault handler around handle_mm_fault()): nothing to
 * do for a present page; a failed fault sends the task SIGBUS — BUS_MCEERR_AR with lsb 12
 * for VM_FAULT_HWPOISON, BUS_ADRERR for VM_FAULT_SIGBUS. Set-up faults are these too.
 */
export function* userFault(mm: MmState, args: { pid: number; addr: bigint }): Hop<Rc> {
  if (lookupPte(mm, args.pid, args.addr)) return 0;
  const fault = yield* invoke('mm.handleMmFault', { pid: args.pid, addr: args.addr });
  if (fault.ok) return 0;
  const task = findTask(mm, args.pid);
  const who = `${task?.comm ?? '?'}:${args.pid}`;
  if (fault.vmFault === 'HWPOISON') {
    mm.signals.push({ pid: args.pid, signo: 'SIGBUS', code: 'BUS_MCEERR_AR', addr: args.addr, lsb: Number(PAGE_SHIFT) });
    yield* printk('mm', 'info', `${who}: VM_FAULT_HWPOISON at ${hex(args.addr)}: SIGBUS BUS_MCEERR_AR`);
  } else {
    mm.signals.push({ pid: args.pid, signo: 'SIGBUS', code: 'BUS_ADRERR', addr: args.addr, lsb: null });
    yield* printk('mm', 'info', `${who}: VM_FAULT_SIGBUS (-${fault.errno}) at ${hex(args.addr)}: SIGBUS BUS_ADRERR`);
  }
  return 0;
}

/**
 * A load by a task (scenario-format "access"): a present DAX page over badblocks is a machine
 * check (as `mce` with RIPV set); another present page reads fine. A missing page faults
 * (userFault). Returns memory_failure's rc on the machine-check path, else 0.
 */
export function* userAccess(mm: MmState, args: { pid: number; addr: bigint }): Hop<Rc> {
  // The page the load hits, remembered: the machine check below unmaps it.
  const pte = yield* memo(lookupPte(mm, args.pid, args.addr));
  if (!pte) return yield* invoke('mm.userFault', args);
  if (pte.kind !== 'dax' || pte.pfn === null) return 0;
  const bad = yield* invoke('pmem.pmemPfnHasBadblocks', { pfn: pte.pfn });
  if (!bad) return 0;
  return yield* invoke('mm.doMachineCheck', { pid: args.pid, pfn: pte.pfn, ripv: true });
}
