import { Module, OnApplicationBootstrap } from '@nestjs/common';

import { Topics } from '@mfsim/contracts';
import { ServiceKafkaRuntime } from '@mfsim/service-kit';

import { DaxNotifyFailureHandler } from './dax-notify-failure.handler';
import { XfsService } from './xfs.service';

@Module({ providers: [XfsService, DaxNotifyFailureHandler] })
export class XfsModule implements OnApplicationBootstrap {
  constructor(
    private readonly kafka: ServiceKafkaRuntime,
    private readonly daxNotifyFailure: DaxNotifyFailureHandler,
  ) {}

  onApplicationBootstrap(): void {
    this.kafka.start({
      handlers: { [Topics.XFS_DAX_NOTIFY_FAILURE]: this.daxNotifyFailure.handle },
      produces: [Topics.MM_DAX_KILL_PROCS],
    });
  }
}
