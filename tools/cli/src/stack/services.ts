/**
 * The service processes of the stack (docs/conventions.md, "Runtime configuration"):
 *   node --require libs/telemetry/dist/register.js services/<name>/dist/main.js
 * each detached, with HTTP_PORT, KAFKA_BROKERS, DATABASE_URL, REDIS_URL, its log file and its pid
 * file. Replicas of a service differ only in HTTP_PORT and their files: the consumer group comes
 * from the service name and MFSIM_TOPIC_PREFIX (libs/messaging KafkaRuntime), so they share it.
 */
import { serviceNodeArgs, startDetachedProcess, zipkinSpansEndpoint } from '@mfsim/stack';

import { ServiceConfig, StackConfig } from './config';
import { viaProxy } from './proxy';
import { readState, StackState } from './state';

/**
 * The environment a service process gets. With `state` (what `up` recorded; read from state.json
 * when not given, so a process restarted later gets the same): its admin token, and with `--proxies`
 * its DATABASE_URL, REDIS_URL and KAFKA_BROKERS through its own proxy edges.
 */
export function serviceEnv(config: StackConfig, service: ServiceConfig, base: NodeJS.ProcessEnv, state: StackState | undefined = readState(config)): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...base,
    KAFKA_BROKERS: `127.0.0.1:${config.kafka.port}`,
    DATABASE_URL: config.databaseUrl,
    REDIS_URL: config.redisUrl,
    MFSIM_TOPIC_PREFIX: config.topicPrefix,
    HTTP_PORT: String(service.port),
    OTEL_SERVICE_NAME: service.name,
    // The output goes to a log file: no terminal colours in it.
    NO_COLOR: '1',
  };
  if (config.redisPrefix !== undefined) env['MFSIM_REDIS_PREFIX'] = config.redisPrefix;
  if (config.zipkin) {
    // The stack's Zipkin is the trace backend (libs/telemetry register.ts reads these).
    env['OTEL_TRACES_EXPORTER'] = 'zipkin';
    env['OTEL_EXPORTER_ZIPKIN_ENDPOINT'] = zipkinSpansEndpoint(config.zipkin.port);
  }
  if (state?.adminToken) env['MFSIM_ADMIN_TOKEN'] = state.adminToken;
  const edges = state?.proxy?.edges ?? {};
  const pg = edges[`${service.id}->postgres`];
  const redis = edges[`${service.id}->redis`];
  const kafka = edges[`${service.id}->kafka`];
  if (pg) env['DATABASE_URL'] = viaProxy(config.databaseUrl, pg.port);
  if (redis) env['REDIS_URL'] = viaProxy(config.redisUrl, redis.port);
  if (kafka) env['KAFKA_BROKERS'] = `127.0.0.1:${kafka.port}`;
  return env;
}

/** The node arguments that run a service (telemetry preloaded when it is built). */
export function serviceArgs(config: StackConfig, service: ServiceConfig): string[] {
  return serviceNodeArgs(service.mainJs, config.telemetryRegister);
}

/** Starts one service process detached, its output in its log file (truncated). Returns its pid. */
export function startService(config: StackConfig, service: ServiceConfig): number {
  return startDetachedProcess({
    command: process.execPath,
    args: serviceArgs(config, service),
    logFile: service.logFile,
    cwd: config.root,
    env: serviceEnv(config, service, process.env),
  });
}
