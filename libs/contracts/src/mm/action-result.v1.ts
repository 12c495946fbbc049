import { z } from 'zod';

import { errnoSchema, pfnSchema } from '../wire';

/** `enum mf_result` as names. */
export const mfResultSchema = z.enum(['MF_IGNORED', 'MF_FAILED', 'MF_DELAYED', 'MF_RECOVERED']);

/**
 * `action_result(pfn, type, result)`: mm's one report of how a failure ended, logged as
 * "Memory failure: 0x…: recovery action for dax page: Recovered". `errno` is the error that
 * ended the handling, null when it succeeded.
 */
export const actionResultV1Schema = z.strictObject({
  pfn: pfnSchema,
  pageType: z.string().min(1).max(64),
  result: mfResultSchema,
  errno: errnoSchema.nullable(),
});
export type ActionResultV1 = z.infer<typeof actionResultV1Schema>;
