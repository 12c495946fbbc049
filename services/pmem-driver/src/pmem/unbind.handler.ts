import { Injectable } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';
import { Attr, messageAttributes, withSpan } from '@mfsim/telemetry';

import { PmemService } from './pmem.service';

/** Consumes `pmem.unbind.v1`: the namespace is disabled while it may be mounted. */
@Injectable()
export class UnbindHandler {
  constructor(private readonly pmem: PmemService) {}

  readonly handle = (envelope: EnvelopeOf<typeof Topics.PMEM_UNBIND>): Promise<void> =>
    withSpan(
      'pmem_release_disk',
      { ...messageAttributes(envelope), [Attr.DAX_DEV]: envelope.data.daxDev },
      () => this.pmem.pmemReleaseDisk(envelope),
    );
}
