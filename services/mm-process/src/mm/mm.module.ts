import { Module, OnApplicationBootstrap } from '@nestjs/common';

import { Topics } from '@mfsim/contracts';
import { ServiceKafkaRuntime } from '@mfsim/service-kit';

import { DaxKillProcsHandler } from './dax-kill-procs.handler';
import { MemoryFailureHandler } from './memory-failure.handler';
import { MmService } from './mm.service';

@Module({ providers: [MmService, MemoryFailureHandler, DaxKillProcsHandler] })
export class MmModule implements OnApplicationBootstrap {
  constructor(
    private readonly kafka: ServiceKafkaRuntime,
    private readonly memoryFailure: MemoryFailureHandler,
    private readonly daxKillProcs: DaxKillProcsHandler,
  ) {}

  onApplicationBootstrap(): void {
    this.kafka.start({
      handlers: {
        [Topics.MM_MEMORY_FAILURE]: this.memoryFailure.handle,
        [Topics.MM_DAX_KILL_PROCS]: this.daxKillProcs.handle,
      },
      produces: [Topics.PGMAP_MEMORY_FAILURE, Topics.MM_ACTION_RESULT],
    });
  }
}
