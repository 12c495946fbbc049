import {
  BeforeApplicationShutdown,
  DynamicModule,
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  OnApplicationShutdown,
} from '@nestjs/common';

import { createKafka, KafkaRuntime } from '@mfsim/messaging';
import {
  createPrismaClient,
  createRedis,
  PrismaClient,
  PrismaTransaction,
  ProcessedMessageRepository,
  Redis,
} from '@mfsim/persistence';

import { ServiceEnv } from './env';
import { ServiceMetrics } from './metrics/service-metrics';

/** The validated ServiceEnv. */
export const ENV = Symbol('ENV');
/** The service folder name (a string), e.g. `pmem-driver`. */
export const SERVICE = Symbol('SERVICE');
/** The PrismaClient of the mfsim database. */
export const PRISMA = Symbol('PRISMA');
/** The ioredis client, with the MFSIM_REDIS_PREFIX key prefix. */
export const REDIS = Symbol('REDIS');
/** The service's ServiceMetrics (instruments and the /metrics scrape). */
export const METRICS = Symbol('METRICS');
/** The runtime this service consumes and publishes with; handlers get a Prisma transaction as `tx`. */
export class ServiceKafkaRuntime extends KafkaRuntime<PrismaTransaction> {}

/**
 * Closes what the module opened, in reverse order: first Kafka (stop consuming and let in-flight
 * handlers finish, since they use the database), then PostgreSQL and Redis.
 */
@Injectable()
class InfrastructureLifecycle implements BeforeApplicationShutdown, OnApplicationShutdown {
  constructor(
    private readonly kafka: ServiceKafkaRuntime,
    @Inject(PRISMA) private readonly prisma: PrismaClient,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {}

  async beforeApplicationShutdown(): Promise<void> {
    await this.kafka.stop();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect();
    await this.redis.quit().catch(() => this.redis.disconnect());
    await this.metrics.shutdown();
  }
}

/** Kafka, PostgreSQL and Redis clients for the whole service, from the validated env. */
@Global()
@Module({})
export class InfrastructureModule {
  static forRoot(env: ServiceEnv, service: string): DynamicModule {
    return {
      module: InfrastructureModule,
      providers: [
        { provide: ENV, useValue: env },
        { provide: SERVICE, useValue: service },
        { provide: PRISMA, useFactory: () => createPrismaClient({ databaseUrl: env.DATABASE_URL }) },
        {
          provide: REDIS,
          useFactory: () => {
            const redis = createRedis({
              url: env.REDIS_URL,
              keyPrefix: env.MFSIM_REDIS_PREFIX,
              connectionName: service,
            });
            // ioredis reconnects by itself; without a listener each failed attempt is an unhandled 'error'.
            const logger = new Logger('Redis');
            redis.on('error', (error: Error) => logger.warn(`redis.connection_error: ${error.message}`));
            return redis;
          },
        },
        {
          provide: METRICS,
          useFactory: () =>
            new ServiceMetrics({ service, group: `${env.MFSIM_TOPIC_PREFIX}${service}`, enabled: env.MFSIM_METRICS === 'on' }),
        },
        {
          provide: ServiceKafkaRuntime,
          inject: [PRISMA, METRICS],
          useFactory: (prisma: PrismaClient, metrics: ServiceMetrics) =>
            new ServiceKafkaRuntime({
              kafka: createKafka({
                clientId: service,
                brokers: env.KAFKA_BROKERS,
                logger: new Logger('KafkaJS'),
              }),
              service,
              topicPrefix: env.MFSIM_TOPIC_PREFIX,
              idempotency: new ProcessedMessageRepository(prisma),
              logger: new Logger('Kafka'),
              observer: metrics.messaging,
            }),
        },
        InfrastructureLifecycle,
      ],
      exports: [ENV, SERVICE, PRISMA, REDIS, METRICS, ServiceKafkaRuntime],
    };
  }
}
