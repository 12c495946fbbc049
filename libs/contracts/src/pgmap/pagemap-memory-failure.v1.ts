import { z } from 'zod';

import { mfFlagsSchema, pfnSchema, pidSchema } from '../wire';

/**
 * `pgmap->ops->memory_failure(pgmap, pfn, nr_pages, mf_flags)`, which pmem implements as
 * `pmem_pagemap_memory_failure()`. mm calls it with one page at a time.
 */
export const pagemapMemoryFailureV1Schema = z.strictObject({
  daxDev: z.string().min(1).max(128),
  pfn: pfnSchema,
  nrPages: z.number().int().positive(),
  mfFlags: mfFlagsSchema,
  currentPid: pidSchema.nullable(),
});
export type PagemapMemoryFailureV1 = z.infer<typeof pagemapMemoryFailureV1Schema>;
