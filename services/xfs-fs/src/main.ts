import 'reflect-metadata';

import { NestFactory } from '@nestjs/core';

import { AppModule } from './app.module';
import { loadEnvOrExit, SERVICE_NAME } from './config/env';

async function bootstrap(): Promise<void> {
  const env = loadEnvOrExit();
  const app = await NestFactory.create(AppModule.forRoot(env));
  app.enableShutdownHooks();
  await app.listen(env.HTTP_PORT);
}

bootstrap().catch((error: unknown) => {
  console.error(`${SERVICE_NAME}: failed to start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
