import { Injectable, Logger } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';

/**
 * device-mapper as the holder of its component dax devices. This follows the never-merged RFC
 * ("dm: Introduce ->rmap() to find bdev offset", "md: Implement dax_holder_operations"), not
 * mainline, where dm registers no holder (see README.md).
 *
 * This is the seam for the kernel model: the method loads the target tables, calls one
 * `@mfsim/kernel-model` function, persists the outcome with the processed-message record, and
 * publishes. Until then it only logs that the event arrived; it stores and publishes nothing.
 */
@Injectable()
export class DmService {
  private readonly logger = new Logger(DmService.name);

  /**
   * Models dm_dax_notify_failure() of the RFC: reverse-map the component offset through the first
   * matching target's ->rmap (dm-linear only) and notify the holder of the dm device's own dax device.
   */
  async dmDaxNotifyFailure(envelope: EnvelopeOf<typeof Topics.DM_DAX_NOTIFY_FAILURE>): Promise<void> {
    const { daxDev, offsetBytes, lenBytes, mfFlags } = envelope.data;
    this.logger.log(
      `dm.dax_notify_failure.received failureId=${envelope.failureId} id=${envelope.id} ` +
        `daxDev=${daxDev} offset=${offsetBytes} len=${lenBytes} mfFlags=0x${mfFlags.toString(16)}`,
    );
  }
}
