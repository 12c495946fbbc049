import { DynamicModule, Module } from '@nestjs/common';

import { Env } from './config/env';
import { HealthController } from './health/health.controller';
import { InfrastructureModule } from './infrastructure/infrastructure.module';
import { DaxModule } from './dax/dax.module';

@Module({})
export class AppModule {
  static forRoot(env: Env): DynamicModule {
    return {
      module: AppModule,
      imports: [InfrastructureModule.forRoot(env), DaxModule],
      controllers: [HealthController],
    };
  }
}
