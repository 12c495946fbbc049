import { bootstrapService, HopModule } from '@mfsim/service-kit';

// Hosts the xfs subsystem of @mfsim/kernel-model (see libs/service-kit/src/hop).
void bootstrapService({ service: 'xfs-fs', defaultHttpPort: 7104, feature: HopModule.forSubsystem('xfs') });
