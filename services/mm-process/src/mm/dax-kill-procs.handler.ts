import { Injectable } from '@nestjs/common';

import { EnvelopeOf, Topics } from '@mfsim/contracts';
import { Attr, messageAttributes, withSpan } from '@mfsim/telemetry';

import { MmService } from './mm.service';

/** Consumes `mm.dax_kill_procs.v1`: the holder asking mm to kill the users of a file range. */
@Injectable()
export class DaxKillProcsHandler {
  constructor(private readonly mm: MmService) {}

  readonly handle = (envelope: EnvelopeOf<typeof Topics.MM_DAX_KILL_PROCS>): Promise<void> =>
    withSpan(
      'mf_dax_kill_procs',
      {
        ...messageAttributes(envelope),
        [Attr.DAX_DEV]: envelope.data.daxDev,
        [Attr.MM_MAPPING_ID]: envelope.data.mappingId,
        [Attr.MM_PGOFF]: envelope.data.pgoff,
        [Attr.MM_PGCNT]: envelope.data.pgcnt,
        [Attr.MF_FLAGS]: envelope.data.mfFlags,
      },
      () => this.mm.mfDaxKillProcs(envelope),
    );
}
