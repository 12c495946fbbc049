import { Module, OnApplicationBootstrap } from '@nestjs/common';

import { Topics } from '@mfsim/contracts';
import { ServiceKafkaRuntime } from '@mfsim/service-kit';

import { DaxNotifyFailureHandler } from './dax-notify-failure.handler';
import { DmService } from './dm.service';

@Module({ providers: [DmService, DaxNotifyFailureHandler] })
export class DmModule implements OnApplicationBootstrap {
  constructor(
    private readonly kafka: ServiceKafkaRuntime,
    private readonly daxNotifyFailure: DaxNotifyFailureHandler,
  ) {}

  onApplicationBootstrap(): void {
    this.kafka.start({
      handlers: { [Topics.DM_DAX_NOTIFY_FAILURE]: this.daxNotifyFailure.handle },
      produces: [Topics.DAX_HOLDER_NOTIFY_FAILURE],
    });
  }
}
