import { Injectable } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';
import { Attr, messageAttributes, withSpan } from '@mfsim/telemetry';

import { MmService } from './mm.service';

/** Consumes `mm.memory_failure.v1`: a poisoned pfn reported by the injector or an MCE. */
@Injectable()
export class MemoryFailureHandler {
  constructor(private readonly mm: MmService) {}

  readonly handle = (envelope: EnvelopeOf<typeof Topics.MM_MEMORY_FAILURE>): Promise<void> =>
    withSpan(
      'memory_failure',
      {
        ...messageAttributes(envelope),
        [Attr.PMEM_PFN]: envelope.data.pfn,
        [Attr.MF_FLAGS]: envelope.data.mfFlags,
        ...(envelope.data.currentPid === null ? {} : { [Attr.MM_CURRENT_PID]: envelope.data.currentPid }),
      },
      () => this.mm.memoryFailure(envelope),
    );
}
