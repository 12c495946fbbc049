import { z } from 'zod';

import { daxDevSchema, mfFlagsSchema, pidSchema, u64Schema } from '../wire';

/**
 * `notify_failure(dax_dev, offset, len, mf_flags)`: one failed byte range of a dax device, used for
 * both `dax_holder_notify_failure()` (into dax-core) and `holder_ops->notify_failure` (out of it).
 * Offsets cross layers in bytes, relative to the device; `offsetBytes` 0 with `lenBytes` U64_MAX
 * means the whole device, as `kill_dax()` sends it.
 */
export const notifyFailureV1Schema = z.strictObject({
  daxDev: daxDevSchema,
  offsetBytes: u64Schema,
  lenBytes: u64Schema,
  mfFlags: mfFlagsSchema,
  currentPid: pidSchema.nullable(),
});
export type NotifyFailureV1 = z.infer<typeof notifyFailureV1Schema>;
