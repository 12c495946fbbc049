export * from './topics';
export * from './wire';
export * from './envelope';
export * from './registry';
export * from './hop/hop.v1';
