import { Injectable } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';
import { Attr, withSpan } from '@mfsim/telemetry';

import { XfsService } from './xfs.service';

/** Consumes `xfs.dax_notify_failure.v1`: dax-core calling XFS's holder_ops->notify_failure. */
@Injectable()
export class DaxNotifyFailureHandler {
  constructor(private readonly xfs: XfsService) {}

  readonly handle = (envelope: EnvelopeOf<typeof Topics.XFS_DAX_NOTIFY_FAILURE>): Promise<void> =>
    withSpan(
      'xfs_dax_notify_failure',
      {
        [Attr.FAILURE_ID]: envelope.failureId,
        [Attr.MESSAGE_ID]: envelope.id,
        [Attr.DAX_DEV]: envelope.data.daxDev,
        [Attr.DAX_OFFSET]: envelope.data.offsetBytes,
        [Attr.DAX_LEN]: envelope.data.lenBytes,
        [Attr.MF_FLAGS]: envelope.data.mfFlags,
      },
      () => this.xfs.xfsDaxNotifyFailure(envelope),
    );
}
