import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { givenKernel, givenPmem, givenTestfileMachine, logsOf, partitionOf, when, wholeDisk } from '../test-kit';
import { MF } from '../mf';
import { U64_MAX } from '../units';
import { daxHolderName } from './dax';

describe('fs_dax_get_by_bdev: one holder per dax_device', () => {
  it('installs the first filesystem holder with compare-and-exchange', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    const got = when(k, 'dax.fsDaxGetByBdev', { bdev: wholeDisk(ns), holder: { kind: 'fs', name: 'xfs0' } }).result;
    assert.deepEqual(got, { daxDev: 'pmem0', partOff: 0n });
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'xfs0');
  });
  it('refuses a second holder, even the same filesystem through another partition', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    when(k, 'dax.fsDaxGetByBdev', { bdev: partitionOf(ns, 'pmem0p1', 2048n, 4096n), holder: { kind: 'fs', name: 'xfs0' } });
    assert.equal(when(k, 'dax.fsDaxGetByBdev', { bdev: partitionOf(ns, 'pmem0p2', 8192n, 4096n), holder: { kind: 'fs', name: 'xfs1' } }).result, null);
    assert.equal(when(k, 'dax.fsDaxGetByBdev', { bdev: partitionOf(ns, 'pmem0p2', 8192n, 4096n), holder: { kind: 'fs', name: 'xfs0' } }).result, null);
  });
  it('gives the device without registering when there is no holder (ext4, mainline dm)', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    assert.deepEqual(when(k, 'dax.fsDaxGetByBdev', { bdev: wholeDisk(ns), holder: null }).result, { daxDev: 'pmem0', partOff: 0n });
    assert.equal(k.dax.devices.get('pmem0')!.holder, null);
  });
  it('returns the partition offset in bytes', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    assert.deepEqual(when(k, 'dax.fsDaxGetByBdev', { bdev: partitionOf(ns, 'pmem0p1', 2048n, 4096n), holder: null }).result, { daxDev: 'pmem0', partOff: 2048n * 512n });
  });
  it('fails an unaligned partition with "unaligned partition for dax"', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    const r = when(k, 'dax.fsDaxGetByBdev', { bdev: partitionOf(ns, 'pmem0p1', 2049n, 4096n), holder: { kind: 'fs', name: 'xfs0' } });
    assert.equal(r.result, null);
    assert.match(logsOf(r.trace).join('\n'), /pmem0p1: error: unaligned partition for dax/);
    assert.equal(when(k, 'dax.fsDaxGetByBdev', { bdev: partitionOf(ns, 'pmem0p1', 2048n, 4097n), holder: null }).result, null);
  });
  it('fails for a raw namespace (no DAX queue), a removed host or a dead device', () => {
    const k = givenKernel();
    const raw = givenPmem(k, { name: 'pmem1', mode: 'raw' });
    assert.equal(when(k, 'dax.fsDaxGetByBdev', { bdev: wholeDisk(raw), holder: null }).result, null);
    const ns = givenPmem(k);
    when(k, 'dax.daxRemoveHost', { daxDev: 'pmem0' });
    assert.equal(when(k, 'dax.fsDaxGetByBdev', { bdev: wholeDisk(ns), holder: null }).result, null);
  });
  it('lets dm devices share a component through the holder list (proposal)', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    when(k, 'dax.fsDaxGetByBdev', { bdev: wholeDisk(ns), holder: { kind: 'dm', name: 'dm0' } });
    when(k, 'dax.fsDaxGetByBdev', { bdev: wholeDisk(ns), holder: { kind: 'dm', name: 'dm1' } });
    assert.deepEqual(k.dax.devices.get('pmem0')!.holder, { kind: 'dm', mds: ['dm0', 'dm1'] });
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'dm0');
  });
});

describe('fs_put_dax', () => {
  it('clears the holder only when it is the caller', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    when(k, 'dax.fsDaxGetByBdev', { bdev: wholeDisk(ns), holder: { kind: 'fs', name: 'xfs0' } });
    when(k, 'dax.fsPutDax', { daxDev: 'pmem0', holder: { kind: 'fs', name: 'other' } });
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'xfs0');
    when(k, 'dax.fsPutDax', { daxDev: 'pmem0', holder: { kind: 'fs', name: 'xfs0' } });
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'none');
  });
});

describe('dax_holder_notify_failure', () => {
  it('is -EOPNOTSUPP without a holder', () => {
    const k = givenKernel();
    givenPmem(k);
    assert.equal(when(k, 'dax.daxHolderNotifyFailure', { daxDev: 'pmem0', offset: 0n, len: 4096n, mfFlags: 0 }).result, 'EOPNOTSUPP');
  });
  it('is -ENXIO on a dead device, holder or not', () => {
    const { k } = givenTestfileMachine();
    k.dax.devices.get('pmem0')!.alive = false;
    assert.equal(when(k, 'dax.daxHolderNotifyFailure', { daxDev: 'pmem0', offset: 0n, len: 4096n, mfFlags: 0 }).result, 'ENXIO');
  });
  it("passes the holder's own answer back", () => {
    const { k } = givenTestfileMachine({ xfs: { rmapbt: false } });
    assert.equal(when(k, 'dax.daxHolderNotifyFailure', { daxDev: 'pmem0', offset: 0n, len: 4096n, mfFlags: 0 }).result, 'EOPNOTSUPP');
  });
});

describe('kill_dax', () => {
  it('notifies the holder with (0, U64_MAX, MF_MEM_PRE_REMOVE), then kills the device and drops the holder', () => {
    const { k } = givenTestfileMachine();
    const r = when(k, 'dax.killDax', { daxDev: 'pmem0' });
    const notify = r.trace.children.find((c) => c.kind === 'call');
    assert.ok(notify && notify.kind === 'call');
    assert.deepEqual(notify.args, { daxDev: 'pmem0', offset: 0n, len: U64_MAX, mfFlags: MF.MF_MEM_PRE_REMOVE });
    const dev = k.dax.devices.get('pmem0')!;
    assert.equal(dev.alive, false);
    assert.equal(dev.holder, null);
  });
  it('ignores the holder answer (no rmapbt: -EOPNOTSUPP) and still kills the device', () => {
    const { k } = givenTestfileMachine({ xfs: { rmapbt: false } });
    when(k, 'dax.killDax', { daxDev: 'pmem0' });
    assert.equal(k.dax.devices.get('pmem0')!.alive, false);
  });
  it('notifies nobody without a holder', () => {
    const k = givenKernel();
    givenPmem(k);
    const r = when(k, 'dax.killDax', { daxDev: 'pmem0' });
    assert.equal(r.trace.children.filter((c) => c.kind === 'call').length, 0);
  });
});

describe('dax_direct_access', () => {
  it('is -ENXIO once dead and -EINVAL for a negative count', () => {
    const k = givenKernel();
    givenPmem(k);
    assert.deepEqual(when(k, 'dax.daxDirectAccess', { daxDev: 'pmem0', pgoff: 0n, nrPages: -1n }).result, { rc: 'EINVAL' });
    k.dax.devices.get('pmem0')!.alive = false;
    assert.deepEqual(when(k, 'dax.daxDirectAccess', { daxDev: 'pmem0', pgoff: 0n, nrPages: 1n }).result, { rc: 'ENXIO' });
  });
});
