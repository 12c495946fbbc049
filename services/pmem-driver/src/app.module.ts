import { DynamicModule, Module } from '@nestjs/common';

import { Env } from './config/env';
import { HealthController } from './health/health.controller';
import { InfrastructureModule } from './infrastructure/infrastructure.module';
import { PmemModule } from './pmem/pmem.module';

@Module({})
export class AppModule {
  static forRoot(env: Env): DynamicModule {
    return {
      module: AppModule,
      imports: [InfrastructureModule.forRoot(env), PmemModule],
      controllers: [HealthController],
    };
  }
}
