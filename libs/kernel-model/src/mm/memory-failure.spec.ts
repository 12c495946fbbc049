import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  callsOf,
  givenDm,
  givenKernel,
  givenPmem,
  givenTask,
  givenTestfileMachine,
  givenXfs,
  logsOf,
  present,
  TESTFILE_PFN,
  when,
  wholeDisk,
  FIRST_DATA_PFN,
} from '../test-kit';
import { MF } from '../mf';
import { U64_MAX } from '../units';
import { shutdownName } from '../xfs/xfs';

const A = 0x7f00_0000_0000n; // pid 100
const B = 0x7f10_0000_0000n; // pid 101
const C = 0x7f20_0000_0000n; // pid 102
const file = (start: bigint, faulted: bigint[] = [0n]) => ({ ino: 131n, start, pages: 16n, faulted });
const madvise = (pid: number, start: bigint, pages = 1n) => ({ pid, start, pages });

describe('§8 invariant 1: only `current` receives BUS_MCEERR_AR', () => {
  it('the injector gets AR, an early-kill mapper of the same page AO', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 100, comm: 'INJ', mmaps: [file(A)] });
    givenTask(k, { pid: 101, mceKill: 'early', mmaps: [file(B)] });
    assert.equal(when(k, 'mm.madviseInjectError', madvise(100, A), 100).result, 0);
    assert.deepEqual(k.mm.signals, [
      { pid: 100, signo: 'SIGBUS', code: 'BUS_MCEERR_AR', addr: A, lsb: 12 },
      { pid: 101, signo: 'SIGBUS', code: 'BUS_MCEERR_AO', addr: B, lsb: 12 },
    ]);
  });
  it('with no current task (debugfs, background) every signal is AO', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 101, mceKill: 'early', mmaps: [file(B)] });
    when(k, 'mm.hwpoisonInject', { pfn: TESTFILE_PFN });
    assert.deepEqual(k.mm.signals.map((s) => s.code), ['BUS_MCEERR_AO']);
  });
});

describe('§8 invariant 2: another task is signalled only if early-kill AND its page is mapped', () => {
  it('late-kill mapper: no signal', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 100, mmaps: [file(A)] });
    givenTask(k, { pid: 101, mceKill: 'late', mmaps: [file(B)] });
    when(k, 'mm.madviseInjectError', madvise(100, A), 100);
    assert.deepEqual(k.mm.signals.map((s) => s.pid), [100]);
  });
  it('early-kill task whose VMA covers the page but never faulted it: no signal', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 100, mmaps: [file(A)] });
    givenTask(k, { pid: 101, mceKill: 'early', mmaps: [file(B, [])] });
    when(k, 'mm.madviseInjectError', madvise(100, A), 100);
    assert.deepEqual(k.mm.signals.map((s) => s.pid), [100]);
  });
  it('sysctl vm.memory_failure_early_kill=1 makes default-policy tasks early, but not late ones', () => {
    const { k } = givenTestfileMachine({ earlyKill: 1 });
    givenTask(k, { pid: 101, mmaps: [file(B)] });
    givenTask(k, { pid: 102, mceKill: 'late', mmaps: [file(C)] });
    when(k, 'mm.hwpoisonInject', { pfn: TESTFILE_PFN });
    assert.deepEqual(k.mm.signals.map((s) => [s.pid, s.code]), [[101, 'BUS_MCEERR_AO']]);
  });
});

describe('§8 invariant 3: unmap happens iff somebody was collected, and then in every process', () => {
  it('collected injector → the late reader loses its PTE too, without a signal', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 100, mmaps: [file(A)] });
    givenTask(k, { pid: 101, mmaps: [file(B, [0n, 1n])] });
    when(k, 'mm.madviseInjectError', madvise(100, A), 100);
    assert.equal(present(k, 101, B), false);
    assert.equal(present(k, 101, B + 0x1000n), true);
    assert.deepEqual(k.mm.signals.map((s) => s.pid), [100]);
  });
  it('nobody collected (background error, late reader) → nothing unmapped, page still poisoned', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 101, mmaps: [file(B)] });
    assert.equal(when(k, 'mm.ucDecodeNotifier', { pfn: TESTFILE_PFN }).result, 0);
    assert.equal(present(k, 101, B), true);
    assert.equal(k.mm.signals.length, 0);
    assert.ok(k.mm.hwpoison.has(TESTFILE_PFN));
    assert.deepEqual(k.mm.actionResults, [{ pfn: TESTFILE_PFN, type: 'dax page', result: 'Recovered' }]);
  });
  it('a page never faulted has no DAX entry: skipped, no poison, still Recovered', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 101, mceKill: 'early', mmaps: [file(B, [])] });
    assert.equal(when(k, 'mm.hwpoisonInject', { pfn: TESTFILE_PFN + 5n }).result, 0);
    assert.equal(k.mm.hwpoison.size, 0);
    assert.deepEqual(k.mm.actionResults.map((a) => a.result), ['Recovered']);
  });
});

describe('§8 invariant 4: metadata shuts down 0x10; pre-remove always ends 0x4', () => {
  it('poison in an inode chunk: -EUCLEAN, shutdown CORRUPT_ONDISK, "dax page: Failed"', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { metadata: [{ owner: 'OWN_INODES', block: 96n, count: 32n }] } });
    assert.equal(when(k, 'mm.hwpoisonInject', { pfn: FIRST_DATA_PFN + 100n }).result, 'EUCLEAN');
    assert.equal(shutdownName(mp), 'SHUTDOWN_CORRUPT_ONDISK');
    assert.deepEqual(k.mm.actionResults, [{ pfn: FIRST_DATA_PFN + 100n, type: 'dax page', result: 'Failed' }]);
  });
  it('unbind: FORCE_UMOUNT even over metadata; AO to every task with the page present, AR to the unbinder', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { metadata: [{ owner: 'OWN_FS', block: 0n, count: 4n }] } });
    givenTask(k, { pid: 1, comm: 'sh', mmaps: [file(A)] });
    givenTask(k, { pid: 101, mceKill: 'late', mmaps: [file(B)] });
    givenTask(k, { pid: 102, mceKill: 'early', mmaps: [file(C, [])] });
    assert.equal(when(k, 'pmem.ndPmemRemove', { disk: 'pmem0' }, 1).result, 0);
    assert.deepEqual(k.mm.signals.map((s) => [s.pid, s.code, s.addr]), [
      [1, 'BUS_MCEERR_AR', A],
      [101, 'BUS_MCEERR_AO', B],
    ]);
    assert.equal(shutdownName(mp), 'SHUTDOWN_FORCE_UMOUNT');
    assert.equal(k.mm.hwpoison.size, 0, 'pre-remove poisons nothing');
    assert.equal(k.mm.actionResults.length, 0, 'no action_result for an unbind');
    assert.equal(k.mm.daxEntries.get('xfs0:131')?.size ?? 0, 0, 'entries invalidated');
    assert.equal(k.dax.devices.get('pmem0')!.alive, false);
  });
  it('unbind without rmapbt: notify -EOPNOTSUPP is ignored; del_gendisk shuts down DEVICE_REMOVED', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { rmapbt: false, reflink: false } });
    givenTask(k, { pid: 101, mceKill: 'early', mmaps: [file(B)] });
    assert.equal(when(k, 'pmem.ndPmemRemove', { disk: 'pmem0' }, 1).result, 0);
    assert.equal(k.mm.signals.length, 0);
    assert.equal(shutdownName(mp), 'SHUTDOWN_DEVICE_REMOVED');
    assert.equal(present(k, 101, B), true);
  });
});

describe('§8 invariant 5: only -EOPNOTSUPP takes the generic page->mapping fallback', () => {
  const cases: [string, (k: ReturnType<typeof givenTestfileMachine>) => void, string][] = [
    ['dead dax device (-ENXIO)', ({ k }) => (k.dax.devices.get('pmem0')!.alive = false), 'ENXIO'],
    ['mount in progress (-EIO)', ({ mp }) => (mp.sbBorn = false), 'EIO'],
    ['metadata (-EUCLEAN)', ({ mp }) => mp.rmap[0]!.unshift({ startblock: 78416n, blockcount: 1n, owner: U64_MAX - 6n, offset: 0n, flags: 0 }), 'EUCLEAN'],
  ];
  for (const [name, arrange, rc] of cases) {
    it(`${name}: no fallback, "Failed"`, () => {
      const m = givenTestfileMachine();
      givenTask(m.k, { pid: 100, mmaps: [file(A)] });
      arrange(m);
      const r = when(m.k, 'mm.madviseInjectError', madvise(100, A), 100);
      assert.equal(r.result, rc);
      assert.ok(!callsOf(r.trace).some((c) => c.op === 'mm.mfGenericKillProcs'));
      assert.deepEqual(m.k.mm.actionResults.map((a) => a.result), ['Failed']);
    });
  }
  it('no rmapbt (-EOPNOTSUPP): the generic path finds the folio mapping and kills as the holder path would', () => {
    const { k } = givenTestfileMachine({ xfs: { rmapbt: false, reflink: false } });
    givenTask(k, { pid: 100, mmaps: [file(A)] });
    givenTask(k, { pid: 101, mceKill: 'early', mmaps: [file(B)] });
    const r = when(k, 'mm.madviseInjectError', madvise(100, A), 100);
    assert.equal(r.result, 0);
    assert.ok(callsOf(r.trace).some((c) => c.op === 'mm.mfGenericKillProcs'));
    assert.deepEqual(k.mm.signals.map((s) => [s.pid, s.code]), [[100, 'BUS_MCEERR_AR'], [101, 'BUS_MCEERR_AO']]);
    assert.ok(k.mm.hwpoison.has(TESTFILE_PFN));
  });
  it('generic path on an unassociated page: -EBUSY, "Failed", no shutdown (metadata under no-rmapbt)', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { rmapbt: false, reflink: false, metadata: [{ owner: 'OWN_FS', block: 0n, count: 4n }] } });
    assert.equal(when(k, 'mm.hwpoisonInject', { pfn: FIRST_DATA_PFN }).result, 'EBUSY');
    assert.equal(mp.shutdown, 0);
    assert.deepEqual(k.mm.actionResults.map((a) => a.result), ['Failed']);
  });
  it('generic path on a folio shared by two reflinked files: -EBUSY, nobody signalled', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    const dm0 = givenDm(k, { mode: 'upstream', component: wholeDisk(ns), start: 0n, len: 8388608n });
    givenXfs(k, { device: dm0, files: [{ ino: 131n, extents: [{ offset: 0n, block: 78416n, count: 1n }] }, { ino: 132n, extents: [{ offset: 0n, block: 78416n, count: 1n }] }] });
    givenTask(k, { pid: 100, mmaps: [file(A)] });
    givenTask(k, { pid: 101, mmaps: [{ ino: 132n, start: B, pages: 1n, faulted: [0n] }] });
    assert.equal(when(k, 'mm.doMachineCheck', { pid: 101, pfn: TESTFILE_PFN, ripv: true }, 101).result, 'EBUSY');
    assert.deepEqual(k.mm.signals, [{ pid: 101, signo: 'SIGBUS', code: 'SI_KERNEL', addr: null, lsb: null }]);
  });
});

describe('§8 invariant 6: action_result for every rc except -EOPNOTSUPP', () => {
  it('hwpoison filter on the generic path: -EOPNOTSUPP, no action_result; madvise still returns 0', () => {
    const { k } = givenTestfileMachine({ hwpoisonFilter: true, xfs: { rmapbt: false, reflink: false } });
    givenTask(k, { pid: 100, mmaps: [file(A)] });
    assert.equal(when(k, 'mm.madviseInjectError', madvise(100, A), 100).result, 0);
    assert.equal(k.mm.actionResults.length, 0);
  });
  it('debugfs with the filter enabled skips DAX pages entirely', () => {
    const { k } = givenTestfileMachine({ hwpoisonFilter: true });
    const r = when(k, 'mm.hwpoisonInject', { pfn: TESTFILE_PFN });
    assert.equal(r.result, 0);
    assert.ok(!callsOf(r.trace).some((c) => c.op === 'mm.memoryFailure'));
  });
  it('the metadata prefix: -ENXIO and "Failed"', () => {
    const { k } = givenTestfileMachine();
    assert.equal(when(k, 'mm.hwpoisonInject', { pfn: FIRST_DATA_PFN - 1n }).result, 'ENXIO');
    assert.deepEqual(k.mm.actionResults.map((a) => a.result), ['Failed']);
  });
  it('memory outside kernel control (raw namespace): -ENXIO and NO action_result', () => {
    const k = givenKernel();
    givenPmem(k, { mode: 'raw' });
    const r = when(k, 'mm.memoryFailure', { pfn: FIRST_DATA_PFN, mfFlags: 0 });
    assert.equal(r.result, 'ENXIO');
    assert.match(logsOf(r.trace).join('\n'), /memory outside kernel control/);
    assert.equal(k.mm.actionResults.length, 0);
  });
});

describe('injection entry points', () => {
  it('madvise without CAP_SYS_ADMIN: -EPERM, nothing happens', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 100, capSysAdmin: false, mmaps: [file(A)] });
    const r = when(k, 'mm.madviseInjectError', madvise(100, A), 100);
    assert.equal(r.result, 'EPERM');
    assert.equal(callsOf(r.trace).length, 1);
  });
  it('madvise faults a missing page in (gup) and calls memory_failure once per page with flags 0x23', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 100, mmaps: [file(A, [])] });
    const r = when(k, 'mm.madviseInjectError', madvise(100, A, 2n), 100);
    const mfs = callsOf(r.trace).filter((c) => c.op === 'mm.memoryFailure').map((c) => c.args);
    assert.deepEqual(mfs, [{ pfn: TESTFILE_PFN, mfFlags: 0x23 }, { pfn: TESTFILE_PFN + 1n, mfFlags: 0x23 }]);
    assert.deepEqual(k.mm.signals.map((s) => s.addr), [A, A + 0x1000n]);
  });
  it('a machine check adds badblocks; a later fault on the page gets VM_FAULT_HWPOISON', () => {
    const { k, ns } = givenTestfileMachine();
    givenTask(k, { pid: 100, mmaps: [file(A)] });
    assert.equal(when(k, 'mm.doMachineCheck', { pid: 100, pfn: TESTFILE_PFN, ripv: false }, 100).result, 0);
    assert.deepEqual(ns.badblocks, [{ sector: 78416n * 8n, count: 8n }]);
    const mf = callsOf(when(k, 'mm.userAccess', { pid: 100, addr: A + 8n }, 100).trace);
    assert.ok(mf.some((c) => c.op === 'mm.handleMmFault'));
    assert.deepEqual(k.mm.signals.at(-1), { pid: 100, signo: 'SIGBUS', code: 'BUS_MCEERR_AR', addr: A + 8n, lsb: 12 });
  });
  it('kill_me_maybe: RIPV clear adds MF_MUST_KILL; a failure it cannot recover sends a plain SIGBUS', () => {
    const { k } = givenTestfileMachine({ xfs: { metadata: [{ owner: 'OWN_AG', block: 10n, count: 1n }] } });
    givenTask(k, { pid: 100 });
    const r = when(k, 'mm.doMachineCheck', { pid: 100, pfn: FIRST_DATA_PFN + 10n, ripv: false }, 100);
    assert.equal(r.result, 'EUCLEAN');
    const mf = callsOf(r.trace).find((c) => c.op === 'mm.memoryFailure');
    assert.deepEqual(mf?.args, { pfn: FIRST_DATA_PFN + 10n, mfFlags: MF.MF_ACTION_REQUIRED | MF.MF_MUST_KILL });
    assert.deepEqual(k.mm.signals, [{ pid: 100, signo: 'SIGBUS', code: 'SI_KERNEL', addr: null, lsb: null }]);
  });
  it('vm.memory_failure_recovery=0 panics: the call chain stops', () => {
    const { k } = givenTestfileMachine({ recovery: 0 });
    const r = when(k, 'mm.hwpoisonInject', { pfn: TESTFILE_PFN });
    assert.equal(r.panic, `Memory failure on page ${TESTFILE_PFN.toString(16)}`);
    assert.equal(k.panic, r.panic);
    assert.throws(() => when(k, 'mm.hwpoisonInject', { pfn: TESTFILE_PFN }), /panicked/);
  });
  it('the same pfn twice runs the chain twice: Recovered twice, no signal when nothing is mapped again', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 100, mmaps: [file(A)] });
    when(k, 'mm.madviseInjectError', madvise(100, A), 100);
    when(k, 'mm.hwpoisonInject', { pfn: TESTFILE_PFN });
    assert.deepEqual(k.mm.actionResults.map((a) => a.result), ['Recovered', 'Recovered']);
    assert.equal(k.mm.signals.length, 1);
  });
});

describe('DAX faults and PMD mappings', () => {
  it('a software injection adds no badblocks: the page re-faults fine afterwards', () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 100, mmaps: [file(A)] });
    when(k, 'mm.madviseInjectError', madvise(100, A), 100);
    assert.equal(when(k, 'mm.userAccess', { pid: 100, addr: A }, 100).result, 0);
    assert.equal(present(k, 100, A), true);
    assert.equal(k.mm.signals.length, 1);
  });
  it('a fault on a shared extent unmaps that file index in every process first', () => {
    const { k } = givenTestfileMachine({ xfs: { files: [{ ino: 131n, extents: [{ offset: 0n, block: 78416n, count: 1n }] }, { ino: 132n, extents: [{ offset: 0n, block: 78416n, count: 1n }] }] } });
    givenTask(k, { pid: 100, mmaps: [{ ino: 131n, start: A, pages: 1n, faulted: [0n] }] });
    givenTask(k, { pid: 101, mmaps: [{ ino: 131n, start: B, pages: 1n, faulted: [0n] }] });
    assert.equal(present(k, 100, A), false);
    assert.equal(present(k, 101, B), true);
  });
  it('PMD: lsb 21 with the exact 4 KiB address, the whole 2 MiB unmapped, HWPoison on the head page', () => {
    const k = givenKernel();
    givenXfs(k, { device: wholeDisk(givenPmem(k)), files: [{ ino: 131n, extents: [{ offset: 0n, block: 512n, count: 512n }] }] });
    givenTask(k, { pid: 100, mmaps: [{ ino: 131n, start: A, pages: 512n, pmd: true, faulted: [0n] }] });
    assert.equal(present(k, 100, A + 511n * 4096n), true);
    const head = FIRST_DATA_PFN + 512n;
    assert.equal(when(k, 'mm.hwpoisonInject', { pfn: head + 3n }).result, 0);
    assert.deepEqual(k.mm.signals, []);
    when(k, 'mm.madviseInjectError', madvise(100, A + 3n * 4096n), 100);
    assert.deepEqual(k.mm.signals, [{ pid: 100, signo: 'SIGBUS', code: 'BUS_MCEERR_AR', addr: A + 3n * 4096n, lsb: 21 }]);
    assert.equal(present(k, 100, A + 511n * 4096n), false);
    assert.ok(k.mm.hwpoison.has(head));
    assert.deepEqual(k.mm.actionResults.map((a) => a.pfn), [head + 3n, head + 3n]);
  });
  it('madvise over a PMD mapping runs memory_failure once per 4 KiB page (§1.0, §9)', () => {
    const k = givenKernel();
    givenXfs(k, { device: wholeDisk(givenPmem(k)), files: [{ ino: 131n, extents: [{ offset: 0n, block: 512n, count: 512n }] }] });
    givenTask(k, { pid: 100, mmaps: [{ ino: 131n, start: A, pages: 512n, pmd: true, faulted: [0n] }] });
    const r = when(k, 'mm.madviseInjectError', madvise(100, A, 2n), 100);
    assert.equal(r.result, 0);
    assert.equal(callsOf(r.trace).filter((c) => c.op === 'mm.memoryFailure').length, 2);
    assert.deepEqual(k.mm.signals.map((s) => [s.addr, s.lsb]), [[A, 21], [A + 4096n, 21]]);
  });
  it('madvise whose gup fault fails is -EFAULT, also over badblocks', () => {
    const { k } = givenTestfileMachine();
    k.pmem.namespaces.get('pmem0')!.badblocks.push({ sector: 78416n * 8n, count: 8n });
    givenTask(k, { pid: 100, mmaps: [file(A, [])] });
    assert.equal(when(k, 'mm.madviseInjectError', madvise(100, A), 100).result, 'EFAULT');
    assert.equal(k.mm.actionResults.length, 0);
  });
  it('a set-up or user fault over badblocks sends BUS_MCEERR_AR, lsb 12', () => {
    const { k } = givenTestfileMachine();
    k.pmem.namespaces.get('pmem0')!.badblocks.push({ sector: 78416n * 8n, count: 8n });
    givenTask(k, { pid: 100, mmaps: [file(A, [])] });
    assert.equal(when(k, 'mm.userFault', { pid: 100, addr: A + 12n }, 100).result, 0);
    assert.deepEqual(k.mm.signals, [{ pid: 100, signo: 'SIGBUS', code: 'BUS_MCEERR_AR', addr: A + 12n, lsb: 12 }]);
    assert.equal(present(k, 100, A), false);
  });
});

describe('page-cache (non-DAX) faults read through the block layer', () => {
  it('dax=never: a fault reads the page; over badblocks the read fails -EIO → SIGBUS BUS_ADRERR', () => {
    const { k } = givenTestfileMachine({ xfs: { dax: 'never' } });
    givenTask(k, { pid: 100, mmaps: [file(A, [1n])] });
    assert.equal(present(k, 100, A + 4096n), true);
    assert.equal(k.mm.signals.length, 0);
    k.pmem.namespaces.get('pmem0')!.badblocks.push({ sector: 78416n * 8n, count: 1n });
    when(k, 'mm.userAccess', { pid: 100, addr: A }, 100);
    assert.deepEqual(k.mm.signals, [{ pid: 100, signo: 'SIGBUS', code: 'BUS_ADRERR', addr: A, lsb: null }]);
    assert.equal(when(k, 'mm.userAccess', { pid: 100, addr: A + 4096n }, 100).result, 0, 'the cached page still reads');
  });
  it('after an unbind the disk is gone: a page-cache fault fails', () => {
    const { k } = givenTestfileMachine({ xfs: { dax: 'never', rmapbt: false, reflink: false } });
    givenTask(k, { pid: 100, mmaps: [file(A, [])] });
    k.pmem.namespaces.get('pmem0')!.bound = false;
    when(k, 'mm.userAccess', { pid: 100, addr: A }, 100);
    assert.deepEqual(k.mm.signals.map((s) => s.code), ['BUS_ADRERR']);
  });
});

