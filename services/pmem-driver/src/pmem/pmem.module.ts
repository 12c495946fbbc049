import { Module, OnApplicationBootstrap } from '@nestjs/common';

import { Topics } from '@mfsim/contracts';
import { ServiceKafkaRuntime } from '@mfsim/service-kit';

import { PgmapMemoryFailureHandler } from './pgmap-memory-failure.handler';
import { PmemService } from './pmem.service';
import { UnbindHandler } from './unbind.handler';

@Module({ providers: [PmemService, PgmapMemoryFailureHandler, UnbindHandler] })
export class PmemModule implements OnApplicationBootstrap {
  constructor(
    private readonly kafka: ServiceKafkaRuntime,
    private readonly pgmapMemoryFailure: PgmapMemoryFailureHandler,
    private readonly unbind: UnbindHandler,
  ) {}

  onApplicationBootstrap(): void {
    this.kafka.start({
      handlers: {
        [Topics.PGMAP_MEMORY_FAILURE]: this.pgmapMemoryFailure.handle,
        [Topics.PMEM_UNBIND]: this.unbind.handle,
      },
      produces: [Topics.DAX_HOLDER_NOTIFY_FAILURE],
    });
  }
}
