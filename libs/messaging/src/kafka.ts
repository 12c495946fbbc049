import { Admin, Kafka, logLevel, LogEntry } from 'kafkajs';

import { ALL_TOPICS, DlqTopic, Topic, topicName } from '@mfsim/contracts';

import { MessagingLogger } from './logger';

// kafkajs prints a one-off notice about its v2 default partitioner; we use that default on purpose.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

export interface KafkaClientOptions {
  clientId: string;
  brokers: readonly string[];
  /** ms to open one TCP connection */
  connectionTimeoutMs?: number;
  /** where kafkajs's own warnings and errors go, one line each; default: kafkajs's JSON lines */
  logger?: MessagingLogger;
}

/**
 * A kafkajs client for one service. Client-level retries are short on purpose: the callers own
 * the retry policy (KafkaRuntime backs off between whole connection attempts; the consumer has its
 * own retry settings for handler failures).
 */
export function createKafka({ clientId, brokers, connectionTimeoutMs = 3000, logger }: KafkaClientOptions): Kafka {
  return new Kafka({
    ...(logger ? { logCreator: () => (entry: LogEntry) => logKafkaJsEntry(logger, entry) } : {}),
    clientId,
    brokers: [...brokers],
    connectionTimeout: connectionTimeoutMs,
    requestTimeout: 10_000,
    logLevel: logLevel.WARN,
    retry: { retries: 2, initialRetryTime: 250, maxRetryTime: 2000 },
  });
}

/** Parses `KAFKA_BROKERS` (`host:port,host:port`). */
export function parseBrokers(value: string): string[] {
  return value
    .split(',')
    .map((broker) => broker.trim())
    .filter((broker) => broker.length > 0);
}

/** Partitions of every mfsim topic: replicas of a service share them (keys spread runs and devices). */
export const TOPIC_PARTITIONS = 4;

/**
 * Creates whichever of `topics` (logical names) do not exist yet under `prefix`, with
 * TOPIC_PARTITIONS partitions and the broker's default replication factor. Existing topics are left alone, so it is safe
 * to call from every service at boot.
 */
export async function ensureTopics(
  admin: Admin,
  prefix: string,
  topics: readonly (Topic | DlqTopic)[] = ALL_TOPICS,
): Promise<string[]> {
  const existing = new Set(await admin.listTopics());
  const missing = topics.map((topic) => topicName(prefix, topic)).filter((name) => !existing.has(name));
  if (missing.length > 0) {
    try {
      await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: TOPIC_PARTITIONS })), waitForLeaders: true });
    } catch (error) {
      // Another service created them at the same moment.
      if (!/already exists/i.test(errorText(error))) throw error;
    }
  }
  return missing;
}

/** One line per kafkajs log entry, without its stack: the message plus broker and error if any. */
function logKafkaJsEntry(logger: MessagingLogger, { namespace, level, log }: LogEntry): void {
  const details = [log.broker ? `broker=${String(log.broker)}` : '', log.error ? `error=${String(log.error)}` : '']
    .filter(Boolean)
    .join(' ');
  const line = `kafkajs.${namespace || 'client'}: ${log.message}${details ? ` (${details})` : ''}`;
  if (level >= logLevel.WARN) {
    logger.warn(line);
  } else {
    logger.error(line);
  }
}

function errorText(error: unknown): string {
  const nested = (error as { errors?: unknown[] }).errors;
  const parts = [error instanceof Error ? error.message : String(error)];
  if (Array.isArray(nested)) for (const e of nested) parts.push(e instanceof Error ? e.message : String(e));
  return parts.join('; ');
}
