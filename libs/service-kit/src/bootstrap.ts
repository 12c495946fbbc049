import 'reflect-metadata';

import { DynamicModule, INestApplication, Module, Type } from '@nestjs/common';
import { APP_GUARD, NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';

import { AdminTokenGuard } from './admin-token.guard';
import { loadServiceEnvOrExit, ServiceEnv } from './env';
import { HealthController } from './health.controller';
import { InfrastructureModule } from './infrastructure.module';
import { MetricsController } from './metrics/metrics.controller';
import { ServiceIdentity } from './service';

export interface ServiceBootstrapOptions extends ServiceIdentity {
  /** The service's own Nest module (handlers, services); it injects the tokens InfrastructureModule exports. */
  feature: Type<unknown> | DynamicModule;
}

/** A service's root module: the shared infrastructure, its feature module and GET /health. */
@Module({})
export class ServiceAppModule {
  static forRoot(env: ServiceEnv, options: Pick<ServiceBootstrapOptions, 'service' | 'feature'>): DynamicModule {
    return {
      module: ServiceAppModule,
      imports: [InfrastructureModule.forRoot(env, options.service), options.feature],
      controllers: [HealthController, MetricsController],
      // MFSIM_ADMIN_TOKEN: state-changing requests need the token (admin-token.guard.ts).
      providers: [{ provide: APP_GUARD, useClass: AdminTokenGuard }],
    };
  }
}

/**
 * kafkajs 2.2.4 schedules a negative timeout on Node >= 23; Node's TimeoutNegativeWarning about
 * it says nothing to an operator, so only that warning is dropped from the log (as the CLI does).
 */
export function dropKafkajsTimeoutWarning(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name !== 'TimeoutNegativeWarning') process.stderr.write(`${warning.name}: ${warning.message}\n`);
  });
}

/**
 * A service's whole `main`: reads the env (one line and exit 1 when a setting is bad), creates the
 * Nest app with shutdown hooks and listens on HTTP_HOST:HTTP_PORT (127.0.0.1 unless HTTP_HOST says otherwise). Any failure to start prints
 * `<service>: failed to start: <reason>` and exits 1, so the returned promise never rejects.
 */
export async function bootstrapService(options: ServiceBootstrapOptions): Promise<INestApplication> {
  try {
    dropKafkajsTimeoutWarning();
    const env = loadServiceEnvOrExit(options);
    const app = await NestFactory.create<NestExpressApplication>(ServiceAppModule.forRoot(env, options), { bodyParser: false });
    // Set-up bodies carry a whole machine's state (large topologies): allow them.
    app.useBodyParser('json', { limit: '512mb' });
    app.enableShutdownHooks();
    await app.listen(env.HTTP_PORT, env.HTTP_HOST);
    return app;
  } catch (error: unknown) {
    console.error(`${options.service}: failed to start: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  }
}
