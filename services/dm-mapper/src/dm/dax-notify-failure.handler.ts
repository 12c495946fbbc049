import { Injectable } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';
import { Attr, withSpan } from '@mfsim/telemetry';

import { DmService } from './dm.service';

/** Consumes `dm.dax_notify_failure.v1`: dax-core calling dm's holder_ops->notify_failure. */
@Injectable()
export class DaxNotifyFailureHandler {
  constructor(private readonly dm: DmService) {}

  readonly handle = (envelope: EnvelopeOf<typeof Topics.DM_DAX_NOTIFY_FAILURE>): Promise<void> =>
    withSpan(
      'dm_dax_notify_failure',
      {
        [Attr.FAILURE_ID]: envelope.failureId,
        [Attr.MESSAGE_ID]: envelope.id,
        [Attr.DAX_DEV]: envelope.data.daxDev,
        [Attr.DAX_OFFSET]: envelope.data.offsetBytes,
        [Attr.DAX_LEN]: envelope.data.lenBytes,
        [Attr.MF_FLAGS]: envelope.data.mfFlags,
      },
      () => this.dm.dmDaxNotifyFailure(envelope),
    );
}
