import { Module, OnApplicationBootstrap } from '@nestjs/common';

import { Topics } from '@mfsim/contracts';
import { ServiceKafkaRuntime } from '@mfsim/service-kit';

import { DaxService } from './dax.service';
import { HolderNotifyFailureHandler } from './holder-notify-failure.handler';

@Module({ providers: [DaxService, HolderNotifyFailureHandler] })
export class DaxModule implements OnApplicationBootstrap {
  constructor(
    private readonly kafka: ServiceKafkaRuntime,
    private readonly holderNotifyFailure: HolderNotifyFailureHandler,
  ) {}

  onApplicationBootstrap(): void {
    this.kafka.start({
      handlers: { [Topics.DAX_HOLDER_NOTIFY_FAILURE]: this.holderNotifyFailure.handle },
      produces: [Topics.XFS_DAX_NOTIFY_FAILURE, Topics.DM_DAX_NOTIFY_FAILURE],
    });
  }
}
