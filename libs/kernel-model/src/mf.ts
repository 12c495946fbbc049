/**
 * enum mf_flags (include/linux/mm.h) and enum mf_result / action_page_types
 * (mm/memory-failure.c). The flags travel unchanged as one bitmask from memory_failure()
 * through pmem, dax and xfs to mf_dax_kill_procs(); layers OR bits in, never swap them for
 * booleans.
 */
export const MF = {
  MF_COUNT_INCREASED: 1 << 0,
  MF_ACTION_REQUIRED: 1 << 1,
  MF_MUST_KILL: 1 << 2,
  MF_SOFT_OFFLINE: 1 << 3,
  MF_UNPOISON: 1 << 4,
  MF_SW_SIMULATED: 1 << 5,
  MF_NO_RETRY: 1 << 6,
  MF_MEM_PRE_REMOVE: 1 << 7,
} as const;

export type MfFlagName = keyof typeof MF;

/** `MF_ACTION_REQUIRED|MF_COUNT_INCREASED|MF_SW_SIMULATED` (0x23) for madvise, etc. */
export function mfFlagsToString(flags: number): string {
  const names = (Object.keys(MF) as MfFlagName[]).filter((n) => (flags & MF[n]) !== 0);
  const hex = `0x${flags.toString(16)}`;
  return names.length === 0 ? hex : `${hex} (${names.join('|')})`;
}

export function hasFlag(flags: number, flag: number): boolean {
  return (flags & flag) !== 0;
}

/** enum mf_result, with the text action_result() prints. */
export const MF_RESULT = {
  MF_IGNORED: 'Ignored',
  MF_FAILED: 'Failed',
  MF_DELAYED: 'Delayed',
  MF_RECOVERED: 'Recovered',
} as const;
export type MfResult = (typeof MF_RESULT)[keyof typeof MF_RESULT];

/** action_page_types text for MF_MSG_DAX; the numeric MF_MSG_* values differ between versions. */
export const MF_MSG_DAX = 'dax page';

/** Signal numbers and si_codes on x86-64 (include/uapi/asm-generic/siginfo.h). */
export const SIG = { SIGBUS: 7, SIGKILL: 9 } as const;
export type SignalName = keyof typeof SIG;
export const SI_CODE = { BUS_ADRERR: 2, BUS_MCEERR_AR: 4, BUS_MCEERR_AO: 5, SI_KERNEL: 0x80 } as const;
export type SiCode = keyof typeof SI_CODE;

/** prctl(PR_MCE_KILL) per-thread flags (include/linux/sched.h). */
export const PF_MCE_PROCESS = 0x00000080;
export const PF_MCE_EARLY = 0x08000000;
