import { bootstrapService, HopModule } from '@mfsim/service-kit';

// Hosts the mm subsystem of @mfsim/kernel-model (see libs/service-kit/src/hop).
void bootstrapService({ service: 'mm-process', defaultHttpPort: 7105, feature: HopModule.forSubsystem('mm') });
