import { Injectable } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';
import { Attr, messageAttributes, withSpan } from '@mfsim/telemetry';

import { PmemService } from './pmem.service';

/** Consumes `pgmap.memory_failure.v1`: mm calling `pgmap->ops->memory_failure`. */
@Injectable()
export class PgmapMemoryFailureHandler {
  constructor(private readonly pmem: PmemService) {}

  readonly handle = (envelope: EnvelopeOf<typeof Topics.PGMAP_MEMORY_FAILURE>): Promise<void> =>
    withSpan(
      'pmem_pagemap_memory_failure',
      {
        ...messageAttributes(envelope),
        [Attr.DAX_DEV]: envelope.data.daxDev,
        [Attr.PMEM_PFN]: envelope.data.pfn,
        [Attr.PMEM_NR_PAGES]: envelope.data.nrPages,
        [Attr.MF_FLAGS]: envelope.data.mfFlags,
      },
      () => this.pmem.pmemPagemapMemoryFailure(envelope),
    );
}
