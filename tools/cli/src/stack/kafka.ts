/**
 * Kafka for the stack (a detached broker JVM that outlives `mfsim stack up`), its topics, and the
 * database migrations: the pieces of `up` that other libraries provide.
 */
import { ensureKafkaJars, KafkaBrokerHandle, kafkaJarsPresent, kafkaVersion, startKafkaBroker } from '@mfsim/stack';
import { Kafka, logLevel } from 'kafkajs';

import { StackConfig, StackError } from './config';

/** Partitions per topic, as the services create them (@mfsim/messaging TOPIC_PARTITIONS): replicas share them. */
const TOPIC_PARTITIONS = 4;

/** Fetches the broker jars with Maven when they are missing. */
export function ensureJars(say: (line: string) => void): void {
  if (kafkaJarsPresent()) return;
  say(`Kafka ${kafkaVersion()} jars missing: fetching them with Maven (deploy/kafka/fetch.sh)`);
  try {
    ensureKafkaJars();
  } catch (err) {
    // The message names deploy/kafka/fetch.sh and why it failed (e.g. no mvn).
    throw new StackError((err as Error).message);
  }
}

export async function startStackKafka(
  config: StackConfig,
  signal: AbortSignal,
  extraListeners?: readonly { name: string; port: number; advertisedPort: number }[],
): Promise<KafkaBrokerHandle> {
  return startKafkaBroker({
    ...(extraListeners && extraListeners.length > 0 ? { extraListeners } : {}),
    port: config.kafka.port,
    controllerPort: config.kafka.controllerPort,
    dataDir: config.kafka.dataDir,
    logFile: config.kafka.logFile,
    heapMb: config.kafka.heapMb,
    detached: true,
    readyTimeoutMs: config.timeoutMs,
    signal,
  });
}

/** One topic to create: a name from @mfsim/contracts ALL_TOPICS, or an object with its partitions. */
type TopicEntry = string | { name?: string; topic?: string; numPartitions?: number; partitions?: number };

/**
 * The topic list from @mfsim/contracts (ALL_TOPICS), or undefined when that library does not
 * provide one (yet).
 */
export function loadAllTopics(): { name: string; numPartitions: number }[] | undefined {
  let contracts: { ALL_TOPICS?: readonly TopicEntry[] };
  try {
    // Loaded at run time: the stack must work before (and without) the contracts library.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    contracts = require('@mfsim/contracts');
  } catch {
    return undefined;
  }
  if (!Array.isArray(contracts.ALL_TOPICS)) return undefined;
  return contracts.ALL_TOPICS.map((t) =>
    typeof t === 'string' ? { name: t, numPartitions: TOPIC_PARTITIONS } : { name: String(t.name ?? t.topic), numPartitions: t.numPartitions ?? t.partitions ?? TOPIC_PARTITIONS },
  );
}

/** Creates the topics that do not exist yet (RF 1). Returns [created, alreadyThere]. */
export async function createStackTopics(brokers: string[], topics: { name: string; numPartitions: number }[]): Promise<[number, number]> {
  const admin = new Kafka({ clientId: 'mfsim-stack', brokers, logLevel: logLevel.WARN }).admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter((t) => !existing.has(t.name));
    if (missing.length > 0) {
      await admin.createTopics({
        topics: missing.map((t) => ({ topic: t.name, numPartitions: t.numPartitions, replicationFactor: 1 })),
        waitForLeaders: true,
        timeout: 30_000,
      });
    }
    return [missing.length, topics.length - missing.length];
  } finally {
    await admin.disconnect();
  }
}

/**
 * Applies the Prisma migrations with @mfsim/persistence migrateDeploy. Returns a line for the
 * person, or undefined-with-note when that library has no migrateDeploy (yet).
 */
export async function applyMigrations(databaseUrl: string): Promise<string> {
  let persistence: { migrateDeploy?: (o: { databaseUrl: string }) => Promise<{ applied: string[] }> };
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    persistence = require('@mfsim/persistence');
  } catch (err) {
    return `skipped: @mfsim/persistence cannot be loaded (${(err as Error).message.split('\n')[0]})`;
  }
  if (typeof persistence.migrateDeploy !== 'function') return 'skipped: @mfsim/persistence has no migrateDeploy yet';
  try {
    const { applied } = await persistence.migrateDeploy({ databaseUrl });
    return applied.length === 0 ? 'up to date' : `applied ${applied.length}: ${applied.join(', ')}`;
  } catch (err) {
    throw new StackError(`migrations failed: ${(err as Error).message.split('\n')[0]}`);
  }
}
