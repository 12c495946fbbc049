/**
 * Per-test Kafka topics and consumer groups: everything a test makes carries its own prefix, and
 * the test deletes that prefix again at the end.
 */
import { Admin, Kafka, logLevel } from 'kafkajs';

import { testKafkaBrokers } from './env';

export interface TestTopicSpec {
  name: string;
  numPartitions?: number;
}

/** A kafkajs client on the test brokers, quiet below WARN. */
export function testKafka(clientId = 'mfsim-test'): Kafka {
  return new Kafka({ clientId, brokers: testKafkaBrokers(), logLevel: logLevel.WARN });
}

function assertPrefix(prefix: string): void {
  // An empty or tiny prefix would match topics that are not the test's own.
  if (prefix.length < 6) throw new Error(`test topic prefix "${prefix}" is too short; use uniqueId()`);
}

/**
 * Creates `<prefix><name>` for each name (1 partition unless given, replication factor 1) and
 * waits for their leaders. Returns the full topic names, in the order given.
 */
export async function createTestTopics(admin: Admin, prefix: string, names: ReadonlyArray<string | TestTopicSpec>): Promise<string[]> {
  assertPrefix(prefix);
  const specs = names.map((n) => (typeof n === 'string' ? { name: n } : n));
  const topics = specs.map((s) => ({ topic: `${prefix}${s.name}`, numPartitions: s.numPartitions ?? 1, replicationFactor: 1 }));
  await admin.createTopics({ topics, waitForLeaders: true, timeout: 30_000 });
  return topics.map((t) => t.topic);
}

/** Deletes every topic whose name starts with `prefix`. Returns the names deleted. */
export async function deleteTestTopics(admin: Admin, prefix: string): Promise<string[]> {
  assertPrefix(prefix);
  const topics = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
  if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
  return topics;
}

/**
 * Deletes every consumer group whose id starts with `prefix`. A group is deletable only once its
 * consumers have disconnected. Returns the ids deleted.
 */
export async function deleteTestGroups(admin: Admin, prefix: string): Promise<string[]> {
  assertPrefix(prefix);
  const { groups } = await admin.listGroups();
  const ids = groups.map((g) => g.groupId).filter((id) => id.startsWith(prefix));
  if (ids.length > 0) await admin.deleteGroups(ids);
  return ids;
}
