/**
 * Units and unsigned 64-bit arithmetic. Addresses, pfns and byte offsets are bigint, as u64
 * values are in the kernel; `u64()` wraps like C does where the kernel relies on it
 * (xfs_dax_translate_range() adds U64_MAX lengths).
 */
export const PAGE_SHIFT = 12n;
export const PAGE_SIZE = 1n << PAGE_SHIFT; // 4096
export const PMD_SHIFT = 21n;
export const PMD_SIZE = 1n << PMD_SHIFT;
/** Pages in a PMD mapping (PG_PMD_NR). */
export const PG_PMD_NR = PMD_SIZE / PAGE_SIZE; // 512
/** ~(PG_PMD_NR - 1): rounds a page index or pfn down to its 2 MiB boundary. */
export const PG_PMD_MASK = ~(PG_PMD_NR - 1n);
export const SECTOR_SHIFT = 9n;
export const SECTOR_SIZE = 1n << SECTOR_SHIFT; // 512, also an XFS basic block (BB)
export const SECTORS_PER_PAGE = PAGE_SIZE / SECTOR_SIZE; // 8
export const U64_MAX = (1n << 64n) - 1n;
export const U32_MAX = (1n << 32n) - 1n;

export function u64(x: bigint): bigint {
  return x & U64_MAX;
}

/** Lower-case hex with 0x, like the kernel's %#lx. */
export function hex(x: bigint | number): string {
  return `0x${x.toString(16)}`;
}

export function pfnToPhys(pfn: bigint): bigint {
  return pfn << PAGE_SHIFT;
}

export function physToPfn(phys: bigint): bigint {
  return phys >> PAGE_SHIFT;
}

/**
 * BTOBB(): bytes to basic blocks, rounding up, in u64 like the kernel's macro — so
 * BTOBB(U64_MAX) wraps to 0 (what a forwarded whole-device length becomes).
 */
export function btobb(bytes: bigint): bigint {
  return u64(bytes + SECTOR_SIZE - 1n) >> SECTOR_SHIFT;
}



