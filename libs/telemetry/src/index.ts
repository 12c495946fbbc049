export * from './attributes';
export * from './with-span';
export * from './trace-exporter';
