import { Injectable, Logger } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';

/**
 * mm's memory-failure handling (mm/memory-failure.c): takes a poisoned pfn, hands a ZONE_DEVICE page
 * to its pagemap owner, and later unmaps and signals the processes the holder found.
 *
 * This is the seam for the kernel model: each method loads the process and mapping state, calls
 * one `@mfsim/kernel-model` function, persists the outcome with the processed-message record, and
 * publishes. Until then the methods only log that the event arrived; they store and publish nothing.
 */
@Injectable()
export class MmService {
  private readonly logger = new Logger(MmService.name);

  /** Models memory_failure(): for a dax page, memory_failure_dev_pagemap() → pgmap->ops->memory_failure. */
  async memoryFailure(envelope: EnvelopeOf<typeof Topics.MM_MEMORY_FAILURE>): Promise<void> {
    const { pfn, mfFlags, currentPid } = envelope.data;
    this.logger.log(
      `mm.memory_failure.received failureId=${envelope.failureId} id=${envelope.id} ` +
        `pfn=${pfn} mfFlags=0x${mfFlags.toString(16)} currentPid=${currentPid ?? '-'}`,
    );
  }

  /** Models mf_dax_kill_procs(): collect_procs_fsdax(), unmap_mapping_range(), kill_procs(). */
  async mfDaxKillProcs(envelope: EnvelopeOf<typeof Topics.MM_DAX_KILL_PROCS>): Promise<void> {
    const { mappingId, pgoff, pgcnt, mfFlags } = envelope.data;
    this.logger.log(
      `mm.dax_kill_procs.received failureId=${envelope.failureId} id=${envelope.id} ` +
        `mapping=${mappingId} pgoff=${pgoff} pgcnt=${pgcnt} mfFlags=0x${mfFlags.toString(16)}`,
    );
  }
}
