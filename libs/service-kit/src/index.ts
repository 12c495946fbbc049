import 'reflect-metadata';

export * from './bootstrap';
export * from './env';
export * from './health.controller';
export * from './infrastructure.module';
export * from './service';
