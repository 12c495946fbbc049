import { Injectable } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';
import { notifyFailureAttributes, withSpan } from '@mfsim/telemetry';

import { XfsService } from './xfs.service';

/** Consumes `xfs.dax_notify_failure.v1`: dax-core calling XFS's holder_ops->notify_failure. */
@Injectable()
export class DaxNotifyFailureHandler {
  constructor(private readonly xfs: XfsService) {}

  readonly handle = (envelope: EnvelopeOf<typeof Topics.XFS_DAX_NOTIFY_FAILURE>): Promise<void> =>
    withSpan(
      'xfs_dax_notify_failure',
      notifyFailureAttributes(envelope),
      () => this.xfs.xfsDaxNotifyFailure(envelope),
    );
}
