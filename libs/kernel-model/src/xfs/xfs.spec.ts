import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  callsOf,
  givenKernel,
  givenPmem,
  givenTask,
  givenTestfileMachine,
  givenXfs,
  logsOf,
  partitionOf,
  when,
  wholeDisk,
} from '../test-kit';
import { MF } from '../mf';
import { U64_MAX } from '../units';
import { daxHolderName } from '../dax/dax';
import { shutdownName, SHUTDOWN } from './xfs';

const OFF_TESTFILE_PAGE0 = 78416n * 4096n;
const notify = (offset: bigint, mfFlags = 0x20, len = 4096n) => ({ fs: 'xfs0', daxDev: 'pmem0', offset, len, mfFlags });

describe('xfs_dax_notify_failure: decision order', () => {
  it('-EIO while the superblock is not born (mount in progress)', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { mounting: true } });
    const r = when(k, 'xfs.xfsDaxNotifyFailure', notify(OFF_TESTFILE_PAGE0));
    assert.equal(r.result, 'EIO');
    assert.match(logsOf(r.trace).join('\n'), /not ready for notify_failure/);
    assert.equal(mp.shutdown, 0);
  });
  it('-EOPNOTSUPP without rmapbt, and nothing else happens', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { rmapbt: false, reflink: false } });
    assert.equal(when(k, 'xfs.xfsDaxNotifyFailure', notify(OFF_TESTFILE_PAGE0)).result, 'EOPNOTSUPP');
    assert.equal(when(k, 'xfs.xfsDaxNotifyFailure', notify(0n, MF.MF_MEM_PRE_REMOVE, U64_MAX)).result, 'EOPNOTSUPP');
    assert.equal(mp.shutdown, 0);
    assert.equal(mp.frozenKernel, false);
  });
  it('-ENXIO for a range outside the filesystem, with no shutdown', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    const mp = givenXfs(k, { device: partitionOf(ns, 'pmem0p1', 2048n, 2048n * 1024n), reflink: false });
    assert.equal(when(k, 'xfs.xfsDaxNotifyFailure', notify(0n)).result, 'ENXIO');
    assert.equal(mp.shutdown, 0);
  });
  it('free space: no record, rc 0, nothing marked', () => {
    const { k, mp } = givenTestfileMachine();
    const r = when(k, 'xfs.xfsDaxNotifyFailure', notify(1000n * 4096n));
    assert.equal(r.result, 0);
    assert.equal(callsOf(r.trace).length, 1);
    assert.equal(mp.shutdown, 0);
  });
});

describe('xfs_dax_failure_fn: metadata records', () => {
  for (const owner of ['OWN_FS', 'OWN_LOG', 'OWN_AG', 'OWN_INOBT', 'OWN_INODES', 'OWN_REFC', 'OWN_COW'] as const) {
    it(`${owner}: shutdown CORRUPT_ONDISK (0x10) and -EUCLEAN`, () => {
      const { k, mp } = givenTestfileMachine({ xfs: { metadata: [{ owner, block: 96n, count: 32n }] } });
      assert.equal(when(k, 'xfs.xfsDaxNotifyFailure', notify(100n * 4096n)).result, 'EUCLEAN');
      assert.equal(mp.shutdown, SHUTDOWN.SHUTDOWN_CORRUPT_ONDISK);
    });
  }
  it('attr-fork and bmbt records of a file count as metadata', () => {
    for (const files of [
      [{ ino: 131n, attrBlocks: [{ block: 5000n, count: 1n }] }],
      [{ ino: 131n, bmbtBlocks: [{ block: 5000n, count: 1n }] }],
    ]) {
      const k = givenKernel();
      const mp = givenXfs(k, { device: wholeDisk(givenPmem(k)), files });
      assert.equal(when(k, 'xfs.xfsDaxNotifyFailure', notify(5000n * 4096n)).result, 'EUCLEAN');
      assert.equal(shutdownName(mp), 'SHUTDOWN_CORRUPT_ONDISK');
    }
  });
  it('keeps walking after a metadata hit: file data in the same range is still handled', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { metadata: [{ owner: 'OWN_COW', block: 78416n, count: 1n }] } });
    givenTask(k, { pid: 100, mmaps: [{ ino: 131n, start: 0x7f00_0000_0000n, pages: 16n, faulted: [0n] }] });
    const r = when(k, 'xfs.xfsDaxNotifyFailure', notify(OFF_TESTFILE_PAGE0, 0x23), 100);
    assert.equal(r.result, 'EUCLEAN');
    assert.ok(callsOf(r.trace).some((c) => c.op === 'mm.mfDaxKillProcs'));
    assert.equal(mp.shutdown, SHUTDOWN.SHUTDOWN_CORRUPT_ONDISK);
  });
  it('the first shutdown reason wins', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { metadata: [{ owner: 'OWN_FS', block: 0n, count: 4n }] } });
    when(k, 'xfs.xfsDaxNotifyFailure', notify(0n));
    when(k, 'xfs.fsBdevMarkDead', { disk: 'pmem0' });
    assert.equal(shutdownName(mp), 'SHUTDOWN_CORRUPT_ONDISK');
  });
  it('after shutdown the AGF read fails: -EIO and no kills', () => {
    const { k } = givenTestfileMachine({ xfs: { metadata: [{ owner: 'OWN_FS', block: 0n, count: 4n }] } });
    when(k, 'xfs.xfsDaxNotifyFailure', notify(0n));
    const r = when(k, 'xfs.xfsDaxNotifyFailure', notify(OFF_TESTFILE_PAGE0));
    assert.equal(r.result, 'EIO');
    assert.ok(!callsOf(r.trace).some((c) => c.op === 'mm.mfDaxKillProcs'));
  });
});

describe('xfs_dax_failure_fn: inode cache (xfs_iget INCORE)', () => {
  it('an uncached inode is skipped (-ENODATA): rc 0, no kill', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { files: [{ ino: 131n, cache: 'uncached', extents: [{ offset: 0n, block: 78416n, count: 16n }] }] } });
    const r = when(k, 'xfs.xfsDaxNotifyFailure', notify(OFF_TESTFILE_PAGE0));
    assert.equal(r.result, 0);
    assert.equal(callsOf(r.trace).length, 1);
    assert.equal(mp.shutdown, 0);
  });
  it('a transient inode (-EAGAIN) shuts the fs down: -EUCLEAN', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { files: [{ ino: 131n, cache: 'transient', extents: [{ offset: 0n, block: 78416n, count: 16n }] }] } });
    assert.equal(when(k, 'xfs.xfsDaxNotifyFailure', notify(OFF_TESTFILE_PAGE0)).result, 'EUCLEAN');
    assert.equal(mp.shutdown, SHUTDOWN.SHUTDOWN_CORRUPT_ONDISK);
  });
  it('a directory block (plain inode owner, not DAX) is ignored: rc 0, no shutdown', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { files: [{ ino: 128n, kind: 'directory', extents: [{ offset: 0n, block: 64n, count: 1n }] }] } });
    const r = when(k, 'xfs.xfsDaxNotifyFailure', notify(64n * 4096n));
    assert.equal(r.result, 0);
    assert.equal(callsOf(r.trace).length, 1);
    assert.equal(mp.shutdown, 0);
  });
  it('a non-DAX file (dax=never; dax=inode without the flag) is ignored', () => {
    for (const dax of ['never', 'inode'] as const) {
      const { k } = givenTestfileMachine({ xfs: { dax } });
      const r = when(k, 'xfs.xfsDaxNotifyFailure', notify(OFF_TESTFILE_PAGE0));
      assert.equal(r.result, 0);
      assert.ok(!callsOf(r.trace).some((c) => c.op === 'mm.mfDaxKillProcs'), dax);
    }
  });
  it('dax=inode with the per-inode flag calls mf_dax_kill_procs', () => {
    const { k } = givenTestfileMachine({ xfs: { dax: 'inode', files: [{ ino: 131n, daxFlag: true, extents: [{ offset: 0n, block: 78416n, count: 16n }] }] } });
    const r = when(k, 'xfs.xfsDaxNotifyFailure', notify(OFF_TESTFILE_PAGE0));
    assert.deepEqual(callsOf(r.trace).find((c) => c.op === 'mm.mfDaxKillProcs')?.args, { mapping: 'xfs0:131', pgoff: 0n, pgcnt: 1n, mfFlags: 0x20 });
  });
  it('visits every owner of a reflinked block in key order, each at its own file offset', () => {
    const { k } = givenTestfileMachine({
      xfs: {
        files: [
          { ino: 132n, extents: [{ offset: 10n, block: 78416n, count: 1n }] },
          { ino: 131n, extents: [{ offset: 0n, block: 78416n, count: 16n }] },
        ],
      },
    });
    const r = when(k, 'xfs.xfsDaxNotifyFailure', notify(OFF_TESTFILE_PAGE0));
    const kills = callsOf(r.trace).filter((c) => c.op === 'mm.mfDaxKillProcs').map((c) => c.args);
    assert.deepEqual(kills, [
      { mapping: 'xfs0:131', pgoff: 0n, pgcnt: 1n, mfFlags: 0x20 },
      { mapping: 'xfs0:132', pgoff: 10n, pgcnt: 1n, mfFlags: 0x20 },
    ]);
  });
});

describe('xfs_dax_notify_failure: external log device', () => {
  function givenLogMachine() {
    const k = givenKernel();
    const data = givenPmem(k);
    const log = givenPmem(k, { name: 'pmem1', physAddr: 0x5_0000_0000n, size: 1n << 30n });
    const mp = givenXfs(k, { device: wholeDisk(data), log: wholeDisk(log) });
    return { k, mp };
  }
  it('xfs holds both dax devices', () => {
    const { k } = givenLogMachine();
    assert.equal(daxHolderName(k.dax.devices.get('pmem1')!), 'xfs0');
  });
  it('a failure on the log shuts down CORRUPT_ONDISK and returns -EUCLEAN, rmapbt or not', () => {
    const { k, mp } = givenLogMachine();
    const r = when(k, 'xfs.xfsDaxNotifyFailure', { fs: 'xfs0', daxDev: 'pmem1', offset: 4096n, len: 4096n, mfFlags: 0x20 });
    assert.equal(r.result, 'EUCLEAN');
    assert.match(logsOf(r.trace).join('\n'), /ondisk log corrupt, shutting down fs!/);
    assert.equal(mp.shutdown, SHUTDOWN.SHUTDOWN_CORRUPT_ONDISK);
  });
  it('is -ENXIO past the log and 0 for pre-remove, without shutdown', () => {
    const { k, mp } = givenLogMachine();
    assert.equal(when(k, 'xfs.xfsDaxNotifyFailure', { fs: 'xfs0', daxDev: 'pmem1', offset: 2n << 30n, len: 4096n, mfFlags: 0 }).result, 'ENXIO');
    assert.equal(when(k, 'xfs.xfsDaxNotifyFailure', { fs: 'xfs0', daxDev: 'pmem1', offset: 0n, len: U64_MAX, mfFlags: MF.MF_MEM_PRE_REMOVE }).result, 0);
    assert.equal(mp.shutdown, 0);
  });
});

describe('xfs_dax_notify_failure: MF_MEM_PRE_REMOVE', () => {
  const preRemove = notify(0n, MF.MF_MEM_PRE_REMOVE, U64_MAX);
  it('freezes, skips metadata, kills + invalidates every cached file, shuts down FORCE_UMOUNT and thaws', () => {
    const { k, mp } = givenTestfileMachine({
      xfs: {
        frozenUser: true,
        metadata: [{ owner: 'OWN_FS', block: 0n, count: 4n }],
        files: [
          { ino: 131n, extents: [{ offset: 0n, block: 78416n, count: 16n }] },
          { ino: 140n, extents: [{ offset: 0n, block: 262144n * 3n + 5n, count: 2n }] },
          { ino: 141n, cache: 'uncached', extents: [{ offset: 0n, block: 262144n + 5n, count: 2n }] },
        ],
      },
    });
    const r = when(k, 'xfs.xfsDaxNotifyFailure', preRemove);
    assert.equal(r.result, 0);
    const logs = logsOf(r.trace).join('\n');
    assert.match(logs, /Device is about to be removed!/);
    assert.match(logs, /User initiated shutdown received\./);
    const calls = callsOf(r.trace).map((c) => [c.op, c.args]);
    assert.deepEqual(calls.slice(1), [
      ['mm.mfDaxKillProcs', { mapping: 'xfs0:131', pgoff: 0n, pgcnt: 16n, mfFlags: MF.MF_MEM_PRE_REMOVE }],
      ['mm.invalidateInodePages2Range', { mapping: 'xfs0:131', start: 0n, end: 15n }],
      ['mm.mfDaxKillProcs', { mapping: 'xfs0:140', pgoff: 0n, pgcnt: 2n, mfFlags: MF.MF_MEM_PRE_REMOVE }],
      ['mm.invalidateInodePages2Range', { mapping: 'xfs0:140', start: 0n, end: 1n }],
    ]);
    assert.equal(shutdownName(mp), 'SHUTDOWN_FORCE_UMOUNT');
    assert.equal(mp.frozenUser, false);
    assert.equal(mp.frozenKernel, false);
  });
  it('a transient inode still shuts down FORCE_UMOUNT (not CORRUPT_ONDISK)', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { files: [{ ino: 131n, cache: 'transient', extents: [{ offset: 0n, block: 78416n, count: 16n }] }] } });
    assert.equal(when(k, 'xfs.xfsDaxNotifyFailure', preRemove).result, 0);
    assert.equal(shutdownName(mp), 'SHUTDOWN_FORCE_UMOUNT');
  });
  it('invalidates non-DAX files too (dax=never), without killing', () => {
    const { k } = givenTestfileMachine({ xfs: { dax: 'never' } });
    const ops = callsOf(when(k, 'xfs.xfsDaxNotifyFailure', preRemove).trace).map((c) => c.op);
    assert.deepEqual(ops.slice(1), ['mm.invalidateInodePages2Range']);
  });
  it('continues when the kernel already holds a freeze', () => {
    const { k, mp } = givenTestfileMachine();
    mp.frozenKernel = true;
    const r = when(k, 'xfs.xfsDaxNotifyFailure', preRemove);
    assert.match(logsOf(r.trace).join('\n'), /already frozen by kernel, err=-16/);
    assert.equal(shutdownName(mp), 'SHUTDOWN_FORCE_UMOUNT');
    assert.equal(mp.frozenKernel, true, 'a freeze we did not take is not thawed');
  });
});

describe('mount: holder and DAX decisions', () => {
  it('xfs registers as holder even with dax=never', () => {
    const { k, mp } = givenTestfileMachine({ xfs: { dax: 'never' } });
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'xfs0');
    assert.deepEqual(mp.mountResult, { mountError: null, dax: false });
  });
  it('a second xfs on another partition gets no dax device: DAX off, no notifications', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    givenXfs(k, { name: 'xfs1', device: partitionOf(ns, 'pmem0p1', 2048n, 2097152n), reflink: false });
    const r = givenXfs(k, { name: 'xfs2', device: partitionOf(ns, 'pmem0p2', 2099200n, 2097152n), reflink: false });
    assert.deepEqual(r.mountResult, { mountError: null, dax: false });
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'xfs1');
  });
  it('reflink on a partition with dax=always fails the mount with -EINVAL and releases the holder', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    const r = givenXfs(k, { device: partitionOf(ns, 'pmem0p1', 2048n, 2097152n), reflink: true });
    assert.deepEqual(r.mountResult, { mountError: 'EINVAL', dax: false });
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'none');
  });
  it('an unaligned partition or a 2 KiB block size turns DAX off', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    assert.deepEqual(givenXfs(k, { device: partitionOf(ns, 'pmem0p1', 2049n, 2097152n), reflink: false }).mountResult, { mountError: null, dax: false });
    const k2 = givenKernel();
    assert.deepEqual(givenXfs(k2, { device: wholeDisk(givenPmem(k2)), blockSize: 2048n }).mountResult, { mountError: null, dax: false });
  });
  it('ext4 registers no holder; dax=always without a DAX device fails with -EINVAL', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    assert.deepEqual(givenXfs(k, { type: 'ext4', device: wholeDisk(ns) }).mountResult, { mountError: null, dax: true });
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'none');
    const k2 = givenKernel();
    const raw = givenPmem(k2, { mode: 'raw' });
    assert.deepEqual(givenXfs(k2, { type: 'ext4', device: wholeDisk(raw) }).mountResult, { mountError: 'EINVAL', dax: false });
  });
});

describe('fs_bdev_mark_dead (del_gendisk)', () => {
  it('shuts a mounted fs down with DEVICE_REMOVED, and one still mounting too (§1.d step 7)', () => {
    const { k, mp } = givenTestfileMachine();
    when(k, 'xfs.fsBdevMarkDead', { disk: 'pmem0' });
    assert.equal(shutdownName(mp), 'SHUTDOWN_DEVICE_REMOVED');
    const m2 = givenTestfileMachine({ xfs: { mounting: true } });
    when(m2.k, 'xfs.fsBdevMarkDead', { disk: 'pmem0' });
    assert.equal(shutdownName(m2.mp), 'SHUTDOWN_DEVICE_REMOVED');
  });
  it('leaves a filesystem on another disk alone', () => {
    const { k, mp } = givenTestfileMachine();
    when(k, 'xfs.fsBdevMarkDead', { disk: 'pmem1' });
    assert.equal(mp.shutdown, 0);
  });
});

describe('xfs iomap for DAX faults', () => {
  it('maps /testfile page 0 to pmem0 pgoff 78416; a shut-down fs answers -EIO', () => {
    const { k, mp } = givenTestfileMachine();
    assert.deepEqual(when(k, 'xfs.xfsDaxIomapBegin', { fs: 'xfs0', ino: 131n, pgoff: 0n, count: 1n }).result, {
      rc: 0, type: 'mapped', daxDev: 'pmem0', daxPgoff: 78416n, count: 1n, shared: false,
    });
    mp.shutdown = SHUTDOWN.SHUTDOWN_CORRUPT_ONDISK;
    assert.deepEqual(when(k, 'xfs.xfsDaxIomapBegin', { fs: 'xfs0', ino: 131n, pgoff: 0n, count: 1n }).result, { rc: 'EIO' });
  });
});
