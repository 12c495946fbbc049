import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { U64_MAX } from '../units';
import { xfsDaxTranslateRange, xfsFailurePgcnt, xfsFailurePgoff } from './failure-range';

const whole = { daxPartOff: 0n, nrSectors: 33816576n }; // 16 GiB − 258 MiB

describe('xfs_dax_translate_range', () => {
  it('turns offset 0x13256000 into daddr 627376, one block of 8 BBs (§3.6)', () => {
    assert.deepEqual(xfsDaxTranslateRange(whole, 0x1325_6000n, 4096n), { daddr: 627376n, bblen: 8n });
  });
  it('maps (0, U64_MAX) to the whole device', () => {
    assert.deepEqual(xfsDaxTranslateRange(whole, 0n, U64_MAX), { daddr: 0n, bblen: 33816576n });
  });
  it('is -ENXIO past the device end', () => {
    assert.deepEqual(xfsDaxTranslateRange(whole, 33816576n * 512n, 4096n), { error: 'ENXIO' });
  });
  it('is -ENXIO before a partition and relative inside it', () => {
    const part = { daxPartOff: 2048n * 512n, nrSectors: 4096n };
    assert.deepEqual(xfsDaxTranslateRange(part, 0n, 4096n), { error: 'ENXIO' });
    assert.deepEqual(xfsDaxTranslateRange(part, 2048n * 512n + 8192n, 4096n), { daddr: 16n, bblen: 8n });
    assert.deepEqual(xfsDaxTranslateRange(part, 0n, U64_MAX), { daddr: 0n, bblen: 4096n });
  });
  it('clips a range that starts before the partition to its start', () => {
    const part = { daxPartOff: 8192n, nrSectors: 4096n };
    assert.deepEqual(xfsDaxTranslateRange(part, 4096n, 8192n), { daddr: 0n, bblen: 8n });
  });
  it('keeps quirk Q3: the partition-relative end is compared with the absolute end', () => {
    const part = { daxPartOff: 1n << 20n, nrSectors: 2048n }; // 1 MiB partition at 1 MiB
    const r = xfsDaxTranslateRange(part, (1n << 20n) + (1n << 20n) - 4096n, 8192n);
    // Exact clipping would give 8 BBs; the kernel's comparison lets the full 16 through.
    assert.deepEqual(r, { daddr: 2040n, bblen: 16n });
  });
});

describe('xfs_failure_pgoff / xfs_failure_pgcnt', () => {
  const rec = { startblock: 78416n, blockcount: 16n, owner: 131n, offset: 100n, flags: 0 };
  it('gives pgoff 106, pgcnt 1 for block 78422 of {78416, 16, ino 131, offset 100} (§3.6)', () => {
    const notify = { startblock: 78422n, blockcount: 1n };
    assert.equal(xfsFailurePgoff(4096n, rec, notify), 106n);
    assert.equal(xfsFailurePgcnt(4096n, rec, notify), 1n);
  });
  it('covers only the overlap of a record and a larger notify range', () => {
    const notify = { startblock: 78410n, blockcount: 10n };
    assert.equal(xfsFailurePgoff(4096n, rec, notify), 100n);
    assert.equal(xfsFailurePgcnt(4096n, rec, notify), 4n);
  });
});
