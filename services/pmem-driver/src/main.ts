import { bootstrapService } from '@mfsim/service-kit';

import { PmemModule } from './pmem/pmem.module';

void bootstrapService({ service: 'pmem-driver', defaultHttpPort: 7101, feature: PmemModule });
