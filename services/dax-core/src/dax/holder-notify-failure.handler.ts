import { Injectable } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';
import { notifyFailureAttributes, withSpan } from '@mfsim/telemetry';

import { DaxService } from './dax.service';

/** Consumes `dax.holder_notify_failure.v1`: a driver (pmem, or dm) reporting a failed range. */
@Injectable()
export class HolderNotifyFailureHandler {
  constructor(private readonly dax: DaxService) {}

  readonly handle = (envelope: EnvelopeOf<typeof Topics.DAX_HOLDER_NOTIFY_FAILURE>): Promise<void> =>
    withSpan(
      'dax_holder_notify_failure',
      notifyFailureAttributes(envelope),
      () => this.dax.daxHolderNotifyFailure(envelope),
    );
}
