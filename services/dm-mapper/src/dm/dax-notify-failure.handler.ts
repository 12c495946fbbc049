import { Injectable } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';
import { notifyFailureAttributes, withSpan } from '@mfsim/telemetry';

import { DmService } from './dm.service';

/** Consumes `dm.dax_notify_failure.v1`: dax-core calling dm's holder_ops->notify_failure. */
@Injectable()
export class DaxNotifyFailureHandler {
  constructor(private readonly dm: DmService) {}

  readonly handle = (envelope: EnvelopeOf<typeof Topics.DM_DAX_NOTIFY_FAILURE>): Promise<void> =>
    withSpan(
      'dm_dax_notify_failure',
      notifyFailureAttributes(envelope),
      () => this.dm.dmDaxNotifyFailure(envelope),
    );
}
