import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { givenDm, givenKernel, givenPmem, givenTask, givenXfs, when, wholeDisk } from '../test-kit';
import { daxHolderName } from '../dax/dax';
import { linearRmap } from './dm';

function givenDmMachine(mode: 'proposal' | 'upstream') {
  const k = givenKernel();
  const ns = givenPmem(k);
  const dm0 = givenDm(k, { mode, component: wholeDisk(ns), start: 2048n, len: 8388608n });
  givenXfs(k, { device: dm0, files: [{ ino: 131n, extents: [{ offset: 0n, block: 78416n, count: 16n }] }] });
  return k;
}

describe('dm-linear: holder registration by mode', () => {
  it('upstream: dm opens pmem0 with no holder; xfs holds dm0', () => {
    const k = givenDmMachine('upstream');
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'none');
    assert.equal(daxHolderName(k.dax.devices.get('dm0')!), 'xfs0');
  });
  it('proposal: dm0 is the holder of pmem0', () => {
    const k = givenDmMachine('proposal');
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'dm0');
  });
  it('proposal: two targets on one component register the mapped device once', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    const bdev = wholeDisk(ns);
    k.dm.devices.set('dm0', {
      name: 'dm0',
      mode: 'proposal',
      targets: [
        { begin: 0n, len: 2048n, type: 'linear', bdev, start: 0n, componentDax: null, componentPartOff: 0n },
        { begin: 2048n, len: 2048n, type: 'linear', bdev, start: 8192n, componentDax: null, componentPartOff: 0n },
      ],
      openers: new Set(),
      removed: false,
    });
    when(k, 'dm.dmCreate', { name: 'dm0' });
    assert.deepEqual(k.dax.devices.get('pmem0')!.holder, { kind: 'dm', mds: ['dm0'] });
  });
});

describe('linear_rmap (proposal)', () => {
  it('maps component sector 627376 to dm sector 625328 (kernel-semantics §3.6)', () => {
    const k = givenDmMachine('proposal');
    assert.equal(linearRmap(k.dm.devices.get('dm0')!, 'pmem0', 627376n), 625328n);
  });
  it('maps nothing below lc.start or past the target', () => {
    const k = givenDmMachine('proposal');
    const md = k.dm.devices.get('dm0')!;
    assert.equal(linearRmap(md, 'pmem0', 2047n), null);
    assert.equal(linearRmap(md, 'pmem0', 2048n + 8388608n), null);
    assert.equal(linearRmap(md, 'pmem1', 4096n), null);
  });
});

describe('dm_dax_notify_failure (proposal)', () => {
  it('forwards (offset − (lc.start − begin)·512, len, flags) to the holder of dm0', () => {
    const k = givenDmMachine('proposal');
    const r = when(k, 'dm.dmDaxNotifyFailure', { mds: ['dm0'], daxDev: 'pmem0', offset: 0x1325_6000n, len: 4096n, mfFlags: 0x23 });
    assert.equal(r.result, 0);
    const fwd = r.trace.children.find((c) => c.kind === 'call');
    assert.ok(fwd && fwd.kind === 'call');
    assert.deepEqual(fwd.args, { daxDev: 'dm0', offset: 0x1315_6000n, len: 4096n, mfFlags: 0x23 });
  });
  it('is -ENODEV when no target maps the offset (e.g. the pre-remove offset 0 below lc.start)', () => {
    const k = givenDmMachine('proposal');
    assert.equal(when(k, 'dm.dmDaxNotifyFailure', { mds: ['dm0'], daxDev: 'pmem0', offset: 0n, len: 4096n, mfFlags: 0 }).result, 'ENODEV');
  });
});

describe('linear_dax_pgoff (forward DAX translation)', () => {
  it('maps dm page 78166 to component page 78422 (kernel-semantics §3.6)', () => {
    const k = givenDmMachine('upstream');
    const r = when(k, 'dm.dmDaxDirectAccess', { md: 'dm0', pgoff: 78166n, nrPages: 1n }).result;
    assert.deepEqual(r, { rc: 0, pfn: 0x110200n + 78422n, nrPages: 1n });
  });
});

describe('dm remove', () => {
  it('is -EBUSY while a filesystem has the device open', () => {
    const k = givenDmMachine('upstream');
    assert.equal(when(k, 'dm.dmRemove', { md: 'dm0' }).result, 'EBUSY');
    assert.equal(k.dax.devices.get('dm0')!.alive, true);
  });
  it('kills its dax device and leaves the holder lists when unused', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    givenDm(k, { mode: 'proposal', component: wholeDisk(ns), start: 0n, len: 8192n });
    givenTask(k, { pid: 1 });
    assert.equal(when(k, 'dm.dmRemove', { md: 'dm0' }).result, 0);
    assert.equal(k.dax.devices.get('dm0')!.alive, false);
    assert.equal(daxHolderName(k.dax.devices.get('pmem0')!), 'none');
    assert.equal(when(k, 'dm.dmRemove', { md: 'dm0' }).result, 'ENODEV');
  });
});
