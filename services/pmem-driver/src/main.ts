import { bootstrapService, HopModule } from '@mfsim/service-kit';

// Hosts the pmem subsystem of @mfsim/kernel-model (see libs/service-kit/src/hop).
void bootstrapService({ service: 'pmem-driver', defaultHttpPort: 7101, feature: HopModule.forSubsystem('pmem') });
