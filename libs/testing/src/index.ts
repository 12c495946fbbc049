export * from './env';
export * from './kafka-broker';
export * from './otlp-collector';
export * from './postgres';
export * from './processes';
export * from './redis';
export * from './servers';
export * from './topics';
