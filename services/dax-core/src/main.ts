import { bootstrapService, HopModule } from '@mfsim/service-kit';

// Hosts the dax subsystem of @mfsim/kernel-model (see libs/service-kit/src/hop).
void bootstrapService({ service: 'dax-core', defaultHttpPort: 7102, feature: HopModule.forSubsystem('dax') });
