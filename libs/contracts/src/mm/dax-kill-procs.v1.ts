import { z } from 'zod';

import { daxDevSchema, mfFlagsSchema, pidSchema, u64Schema } from '../wire';

/**
 * `mf_dax_kill_procs(mapping, index, count, mf_flags)`: the holder found a file range backed by the
 * failed storage and asks mm to unmap it and signal the processes that map it.
 * `mappingId` names the `address_space` (the inode); `pgoff` and `pgcnt` are in pages.
 */
export const daxKillProcsV1Schema = z.strictObject({
  daxDev: daxDevSchema,
  mappingId: z.string().min(1).max(128),
  pgoff: u64Schema,
  pgcnt: u64Schema,
  mfFlags: mfFlagsSchema,
  currentPid: pidSchema.nullable(),
});
export type DaxKillProcsV1 = z.infer<typeof daxKillProcsV1Schema>;
