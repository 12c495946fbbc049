import { Injectable, Logger } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';

/**
 * XFS as a dax holder (fs/xfs/xfs_notify_failure.c): maps a failed dax range onto the data device,
 * walks the reverse map and asks mm to kill the processes that map the affected file pages.
 *
 * This is the seam for the kernel model: the method loads the rmap, calls one
 * `@mfsim/kernel-model` function, persists the outcome with the processed-message record, and
 * publishes. Until then it only logs that the event arrived; it stores and publishes nothing.
 */
@Injectable()
export class XfsService {
  private readonly logger = new Logger(XfsService.name);

  /**
   * Models xfs_dax_notify_failure(): -EIO fs not ready, -EOPNOTSUPP realtime device or no rmapbt,
   * -EFSCORRUPTED external log hit, -ENXIO range outside the fs.
   */
  async xfsDaxNotifyFailure(envelope: EnvelopeOf<typeof Topics.XFS_DAX_NOTIFY_FAILURE>): Promise<void> {
    const { daxDev, offsetBytes, lenBytes, mfFlags } = envelope.data;
    this.logger.log(
      `xfs.dax_notify_failure.received failureId=${envelope.failureId} id=${envelope.id} ` +
        `daxDev=${daxDev} offset=${offsetBytes} len=${lenBytes} mfFlags=0x${mfFlags.toString(16)}`,
    );
  }
}
