import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';

import { HealthReport, runHealthChecks } from '@mfsim/messaging';
import { pingPostgres, pingRedis, PrismaClient, Redis } from '@mfsim/persistence';

import { PRISMA, REDIS, SERVICE, ServiceKafkaRuntime } from './infrastructure.module';

/** `GET /health`: 200 when Kafka, PostgreSQL and Redis are all up, else 503 naming the failure. */
@Controller('health')
export class HealthController {
  constructor(
    @Inject(SERVICE) private readonly service: string,
    private readonly kafka: ServiceKafkaRuntime,
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(REDIS) private readonly redis: Redis,
  ) {}

  @Get()
  async health(): Promise<HealthReport> {
    const report = await runHealthChecks(this.service, {
      kafka: () => this.kafka.check(),
      postgres: () => pingPostgres(this.prisma),
      redis: () => pingRedis(this.redis),
    });
    if (report.status !== 'ok') {
      throw new ServiceUnavailableException(report);
    }
    return report;
  }
}
