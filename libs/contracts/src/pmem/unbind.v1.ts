import { z } from 'zod';

import { daxDevSchema, pidSchema } from '../wire';

/**
 * An administrator disables a pmem namespace while it may be mounted (`ndctl disable-namespace`);
 * pmem's remove path calls `kill_dax()`, which notifies the holder with MF_MEM_PRE_REMOVE over the
 * whole device. `requestingPid` is the task doing the unbind, null when unknown.
 */
export const unbindV1Schema = z.strictObject({
  daxDev: daxDevSchema,
  namespaceId: z.string().min(1).max(128),
  requestingPid: pidSchema.nullable(),
});
export type UnbindV1 = z.infer<typeof unbindV1Schema>;
