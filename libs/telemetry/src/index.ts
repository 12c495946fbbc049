export * from './attributes';
export * from './with-span';
