import { bootstrapService } from '@mfsim/service-kit';

import { MmModule } from './mm/mm.module';

void bootstrapService({ service: 'mm-process', defaultHttpPort: 7105, feature: MmModule });
