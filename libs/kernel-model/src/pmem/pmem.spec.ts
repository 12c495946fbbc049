import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { givenKernel, givenPmem, givenTestfileMachine, partitionOf, when, wholeDisk, FIRST_DATA_PFN } from '../test-kit';
import { pmemFirstDataPfn, pmemOffsetToPfn, pmemPfnToOffset } from './pmem';

describe('pmem_pagemap_memory_failure: pfn → dax offset', () => {
  it('matches the worked example of kernel-semantics §3.6: pfn 0x123456 → offset 0x13256000', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    assert.equal(pmemPfnToOffset(ns, 0x123456n), 0x1325_6000n);
    assert.equal(pmemOffsetToPfn(ns, 0x1325_6000n), 0x123456n);
    assert.equal(pmemFirstDataPfn(ns), FIRST_DATA_PFN);
  });

  it('notifies the dax holder with offset, len 4096 and the flags unchanged', () => {
    const { k } = givenTestfileMachine();
    const r = when(k, 'pmem.pmemPagemapMemoryFailure', { disk: 'pmem0', pfn: 0x123456n, nrPages: 1n, mfFlags: 0x23 });
    const notify = r.trace.children.find((c) => c.kind === 'call');
    assert.ok(notify && notify.kind === 'call');
    assert.equal(notify.op, 'dax.daxHolderNotifyFailure');
    assert.deepEqual(notify.args, { daxDev: 'pmem0', offset: 0x1325_6000n, len: 4096n, mfFlags: 0x23 });
  });
});

describe('get_dev_pagemap / pgmap_pfn_valid', () => {
  it('knows the data pfns of an fsdax namespace', () => {
    const k = givenKernel();
    givenPmem(k);
    assert.deepEqual(when(k, 'pmem.getDevPagemap', { pfn: FIRST_DATA_PFN }).result, { disk: 'pmem0', pfnValid: true });
  });
  it('marks pfns in the info-block/struct-page prefix as not valid', () => {
    const k = givenKernel();
    givenPmem(k);
    assert.deepEqual(when(k, 'pmem.getDevPagemap', { pfn: FIRST_DATA_PFN - 1n }).result, { disk: 'pmem0', pfnValid: false });
  });
  it('has no pagemap for a raw namespace, nor past the pfn_pad trimmed end', () => {
    const k = givenKernel();
    givenPmem(k, { name: 'pmem0', mode: 'raw' });
    assert.equal(when(k, 'pmem.getDevPagemap', { pfn: FIRST_DATA_PFN }).result, null);
    const k2 = givenKernel();
    givenPmem(k2, { pfnPad: 0x20_0000n });
    const lastPfn = (0x1_0000_0000n + 16n * (1n << 30n)) / 4096n - 1n;
    assert.equal(when(k2, 'pmem.getDevPagemap', { pfn: lastPfn }).result, null);
  });
});

describe('__pmem_direct_access', () => {
  it('turns a dax pgoff into a pfn and counts the pages left', () => {
    const k = givenKernel();
    givenPmem(k);
    const r = when(k, 'pmem.pmemDaxDirectAccess', { disk: 'pmem0', pgoff: 78416n, nrPages: 1n }).result;
    assert.deepEqual(r, { rc: 0, pfn: 0x123450n, nrPages: 1n });
  });
  it('answers -EHWPOISON when a bad sector lies in the range', () => {
    const k = givenKernel();
    givenPmem(k, { badblocks: [{ sector: 78416n * 8n + 3n, count: 1n }] });
    assert.deepEqual(when(k, 'pmem.pmemDaxDirectAccess', { disk: 'pmem0', pgoff: 78416n, nrPages: 1n }).result, { rc: 'EHWPOISON' });
    assert.equal(when(k, 'pmem.pmemDaxDirectAccess', { disk: 'pmem0', pgoff: 78417n, nrPages: 1n }).result?.rc, 0);
  });
  it('answers -ERANGE past the end of the disk', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    const pages = (ns.size - ns.dataOffset) / 4096n;
    assert.deepEqual(when(k, 'pmem.pmemDaxDirectAccess', { disk: 'pmem0', pgoff: pages, nrPages: 1n }).result, { rc: 'ERANGE' });
  });
});

describe('nvdimm_bus_add_badrange (NFIT machine-check notifier)', () => {
  it('records the 8 sectors of a hardware-poisoned data page, once', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    when(k, 'pmem.nvdimmAddBadrange', { pfn: 0x123450n });
    when(k, 'pmem.nvdimmAddBadrange', { pfn: 0x123450n });
    assert.deepEqual(ns.badblocks, [{ sector: 78416n * 8n, count: 8n }]);
    assert.equal(when(k, 'pmem.pmemPfnHasBadblocks', { pfn: 0x123450n }).result, true);
    assert.equal(when(k, 'pmem.pmemPfnHasBadblocks', { pfn: 0x123451n }).result, false);
  });
  it('ignores pages of the metadata prefix', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    when(k, 'pmem.nvdimmAddBadrange', { pfn: FIRST_DATA_PFN - 1n });
    assert.deepEqual(ns.badblocks, []);
  });
});

describe('nd_pmem_remove (unbind)', () => {
  it('runs dax_remove_host, kill_dax, then del_gendisk, in that order', () => {
    const { k } = givenTestfileMachine();
    const r = when(k, 'pmem.ndPmemRemove', { disk: 'pmem0' }, 1);
    assert.equal(r.result, 0);
    const ops = r.trace.children.flatMap((c) => (c.kind === 'call' ? [c.op] : []));
    assert.deepEqual(ops, ['dax.daxRemoveHost', 'dax.killDax', 'xfs.fsBdevMarkDead']);
  });
  it('answers -ENODEV when the driver is no longer bound', () => {
    const { k } = givenTestfileMachine();
    when(k, 'pmem.ndPmemRemove', { disk: 'pmem0' }, 1);
    assert.equal(when(k, 'pmem.ndPmemRemove', { disk: 'pmem0' }, 1).result, 'ENODEV');
  });
});

describe('bd_may_claim: exclusive opens', () => {
  it('lets the same holder re-claim and refuses another with -EBUSY', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    assert.equal(when(k, 'pmem.bdClaim', { bdev: wholeDisk(ns), holder: 'fs:a' }).result, 0);
    assert.equal(when(k, 'pmem.bdClaim', { bdev: wholeDisk(ns), holder: 'fs:a' }).result, 0);
    assert.equal(when(k, 'pmem.bdClaim', { bdev: wholeDisk(ns), holder: 'fs:b' }).result, 'EBUSY');
  });
  it('refuses a partition while the whole disk is held, and the whole disk while a partition is', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    when(k, 'pmem.bdClaim', { bdev: wholeDisk(ns), holder: 'fs:a' });
    assert.equal(when(k, 'pmem.bdClaim', { bdev: partitionOf(ns, 'p1', 2048n, 4096n), holder: 'fs:b' }).result, 'EBUSY');
    const k2 = givenKernel();
    const ns2 = givenPmem(k2);
    assert.equal(when(k2, 'pmem.bdClaim', { bdev: partitionOf(ns2, 'p1', 2048n, 4096n), holder: 'fs:b' }).result, 0);
    assert.equal(when(k2, 'pmem.bdClaim', { bdev: partitionOf(ns2, 'p2', 8192n, 4096n), holder: 'fs:c' }).result, 0);
    assert.equal(when(k2, 'pmem.bdClaim', { bdev: wholeDisk(ns2), holder: 'fs:a' }).result, 'EBUSY');
  });
  it('releases only its own claim', () => {
    const k = givenKernel();
    const ns = givenPmem(k);
    when(k, 'pmem.bdClaim', { bdev: wholeDisk(ns), holder: 'fs:a' });
    when(k, 'pmem.bdRelease', { bdev: wholeDisk(ns), holder: 'fs:b' });
    assert.equal(when(k, 'pmem.bdClaim', { bdev: wholeDisk(ns), holder: 'fs:b' }).result, 'EBUSY');
    when(k, 'pmem.bdRelease', { bdev: wholeDisk(ns), holder: 'fs:a' });
    assert.equal(when(k, 'pmem.bdClaim', { bdev: wholeDisk(ns), holder: 'fs:b' }).result, 0);
  });
});
