import 'reflect-metadata';

export * from './bootstrap';
export * from './env';
export * from './health.controller';
export * from './infrastructure.module';
export * from './service';
export * from './hop/hop-host';
export * from './hop/hop.controller';
export * from './hop/hop.module';
export * from './admin-token.guard';
export * from './hop/chaos-flags';
export * from './metrics/service-metrics';
export * from './metrics/step-effects';
export * from './metrics/metrics.controller';
