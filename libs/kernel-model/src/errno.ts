/**
 * Linux errno values (include/uapi/asm-generic/errno-base.h, errno.h) that the memory-failure
 * path returns. Kernel functions return them negated; the model returns them as names, and
 * `0` for success, so a result reads like the kernel's `rc` and prints without a lookup table.
 */
export const ERRNO = {
  EPERM: 1,
  EIO: 5,
  ENXIO: 6,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  ENODEV: 19,
  EINVAL: 22,
  ERANGE: 34,
  EAGAIN: 11,
  ENODATA: 61,
  EOPNOTSUPP: 95,
  /** EFSCORRUPTED is EUCLEAN in XFS (fs/xfs/xfs_linux.h). */
  EUCLEAN: 117,
  EHWPOISON: 133,
} as const;

export type Errno = keyof typeof ERRNO;

/** A kernel return code: 0 or a (positive-named) errno. */
export type Rc = 0 | Errno;

export const EFSCORRUPTED: Errno = 'EUCLEAN';

/** `-EIO` style, the way the kernel logs a return code. */
export function rcToString(rc: Rc): string {
  return rc === 0 ? '0' : `-${rc}`;
}


