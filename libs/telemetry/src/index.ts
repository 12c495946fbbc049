export * from './attributes';
export * from './with-span';
export * from './trace-exporter';
export * from './incident-context';
