import { DynamicModule, Module } from '@nestjs/common';

import type { Subsystem } from '@mfsim/kernel-model';

import { ChaosFlags, ChaosFlagsController } from './chaos-flags';
import { HOP_SUBSYSTEM, HopHost } from './hop-host';
import { HopController } from './hop.controller';

/** A service's feature module: it hosts one subsystem of the kernel model. */
@Module({})
export class HopModule {
  static forSubsystem(subsys: Subsystem): DynamicModule {
    return {
      module: HopModule,
      providers: [{ provide: HOP_SUBSYSTEM, useValue: subsys }, HopHost, ChaosFlags],
      controllers: [HopController, ChaosFlagsController],
      exports: [HopHost],
    };
  }
}
