import { bootstrapService } from '@mfsim/service-kit';

import { DmModule } from './dm/dm.module';

void bootstrapService({ service: 'dm-mapper', defaultHttpPort: 7103, feature: DmModule });
