import { bootstrapService } from '@mfsim/service-kit';

import { XfsModule } from './xfs/xfs.module';

void bootstrapService({ service: 'xfs-fs', defaultHttpPort: 7104, feature: XfsModule });
