import { Injectable } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';
import { Attr, withSpan } from '@mfsim/telemetry';

import { DaxService } from './dax.service';

/** Consumes `dax.holder_notify_failure.v1`: a driver (pmem, or dm) reporting a failed range. */
@Injectable()
export class HolderNotifyFailureHandler {
  constructor(private readonly dax: DaxService) {}

  readonly handle = (envelope: EnvelopeOf<typeof Topics.DAX_HOLDER_NOTIFY_FAILURE>): Promise<void> =>
    withSpan(
      'dax_holder_notify_failure',
      {
        [Attr.FAILURE_ID]: envelope.failureId,
        [Attr.MESSAGE_ID]: envelope.id,
        [Attr.DAX_DEV]: envelope.data.daxDev,
        [Attr.DAX_OFFSET]: envelope.data.offsetBytes,
        [Attr.DAX_LEN]: envelope.data.lenBytes,
        [Attr.MF_FLAGS]: envelope.data.mfFlags,
      },
      () => this.dax.daxHolderNotifyFailure(envelope),
    );
}
