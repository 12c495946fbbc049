import { Injectable, Logger } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';

/**
 * dax core (drivers/dax/super.c): knows each dax device's holder only through
 * `dax_holder_operations` and forwards a failure to it (xfs-fs, or dm-mapper in the proposal mode).
 *
 * This is the seam for the kernel model: the method loads the holder registry, calls one
 * `@mfsim/kernel-model` function, persists the outcome with the processed-message record, and
 * publishes. Until then it only logs that the event arrived; it stores and publishes nothing.
 */
@Injectable()
export class DaxService {
  private readonly logger = new Logger(DaxService.name);

  /** Models dax_holder_notify_failure(): -ENXIO if the device is dead, -EOPNOTSUPP if it has no holder. */
  async daxHolderNotifyFailure(envelope: EnvelopeOf<typeof Topics.DAX_HOLDER_NOTIFY_FAILURE>): Promise<void> {
    const { daxDev, offsetBytes, lenBytes, mfFlags } = envelope.data;
    this.logger.log(
      `dax.holder_notify_failure.received failureId=${envelope.failureId} id=${envelope.id} ` +
        `daxDev=${daxDev} offset=${offsetBytes} len=${lenBytes} mfFlags=0x${mfFlags.toString(16)}`,
    );
  }
}
