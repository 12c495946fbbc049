import { bootstrapService, HopModule } from '@mfsim/service-kit';

// Hosts the dm subsystem of @mfsim/kernel-model (see libs/service-kit/src/hop).
void bootstrapService({ service: 'dm-mapper', defaultHttpPort: 7103, feature: HopModule.forSubsystem('dm') });
