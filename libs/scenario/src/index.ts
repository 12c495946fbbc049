export * from './scenario.types';
export * from './parse-scenario';
export * from './topology';
export * from './outcome';
export * from './compare';
export * from './run-scenario';
export * from './render';
