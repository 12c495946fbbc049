export * from './health';
export * from './kafka-broker';
export * from './postgres-admin';
export * from './probes';
export * from './processes';
export * from './redis-server';
export * from './service-processes';
export * from './tcp-proxy';
