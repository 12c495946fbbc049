import { bootstrapService } from '@mfsim/service-kit';

import { DaxModule } from './dax/dax.module';

void bootstrapService({ service: 'dax-core', defaultHttpPort: 7102, feature: DaxModule });
