import { z } from 'zod';

import { mfFlagsSchema, pfnSchema, pidSchema } from '../wire';

/**
 * `memory_failure(pfn, flags)`: a poisoned page reported by the MCE handler, madvise(MADV_HWPOISON)
 * or the hwpoison debugfs injector. `currentPid` is the task that consumed the poison (the only one
 * that may get an action-required SIGBUS); null for a background (e.g. patrol-scrub) report.
 */
export const memoryFailureV1Schema = z.strictObject({
  pfn: pfnSchema,
  mfFlags: mfFlagsSchema,
  currentPid: pidSchema.nullable(),
});
export type MemoryFailureV1 = z.infer<typeof memoryFailureV1Schema>;
