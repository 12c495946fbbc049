import { Injectable, Logger } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';

/**
 * The pmem driver (drivers/nvdimm/pmem.c): turns a failed pfn into a byte range of its dax device
 * and reports it to dax-core; on unbind, tells the holder the whole device is going away.
 *
 * This is the seam for the kernel model: each method loads this service's state, calls one
 * `@mfsim/kernel-model` function, persists the outcome with the processed-message record, and
 * publishes. Until then the methods only log that the event arrived; they store and publish nothing.
 */
@Injectable()
export class PmemService {
  private readonly logger = new Logger(PmemService.name);

  /** Models pmem_pagemap_memory_failure(): pfn → dax offset, then dax_holder_notify_failure(). */
  async pmemPagemapMemoryFailure(envelope: EnvelopeOf<typeof Topics.PGMAP_MEMORY_FAILURE>): Promise<void> {
    const { daxDev, pfn, mfFlags } = envelope.data;
    this.logger.log(
      `pmem.pagemap_memory_failure.received failureId=${envelope.failureId} id=${envelope.id} ` +
        `daxDev=${daxDev} pfn=${pfn} mfFlags=0x${mfFlags.toString(16)}`,
    );
  }

  /** Models pmem_release_disk(): kill_dax() notifies the holder with MF_MEM_PRE_REMOVE over the whole device. */
  async pmemReleaseDisk(envelope: EnvelopeOf<typeof Topics.PMEM_UNBIND>): Promise<void> {
    const { daxDev, namespaceId } = envelope.data;
    this.logger.log(
      `pmem.release_disk.received failureId=${envelope.failureId} id=${envelope.id} ` +
        `daxDev=${daxDev} namespace=${namespaceId}`,
    );
  }
}
