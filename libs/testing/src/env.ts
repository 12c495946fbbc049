/**
 * Where integration tests find their servers, and names that keep two tests (or two runs) apart.
 *
 * The servers come from the environment (docs/conventions.md, "Tests"):
 *   MFSIM_TEST_KAFKA_BROKERS   required; `npm test` (tools/test-runner) starts a broker and sets it
 *   MFSIM_TEST_DATABASE_URL    admin URL, default postgresql://postgres@127.0.0.1:5432/postgres
 *   MFSIM_TEST_REDIS_URL       default redis://127.0.0.1:6379
 */
import { randomBytes } from 'node:crypto';

export const TEST_ENV = {
  kafkaBrokers: 'MFSIM_TEST_KAFKA_BROKERS',
  databaseUrl: 'MFSIM_TEST_DATABASE_URL',
  redisUrl: 'MFSIM_TEST_REDIS_URL',
} as const;

export const DEFAULT_TEST_DATABASE_ADMIN_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';
export const DEFAULT_TEST_REDIS_URL = 'redis://127.0.0.1:6379';

export class TestEnvironmentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TestEnvironmentError';
  }
}

/**
 * The Kafka bootstrap brokers for integration tests. Throws when MFSIM_TEST_KAFKA_BROKERS is not
 * set: there is no default, so a test never talks to a stack it did not mean to.
 */
export function testKafkaBrokers(): string[] {
  const raw = process.env[TEST_ENV.kafkaBrokers]?.trim();
  if (!raw) {
    throw new TestEnvironmentError(
      `${TEST_ENV.kafkaBrokers} is not set. Run integration tests with \`npm test\` or ` +
        '`node tools/test-runner/run-tests.js` (they start a Kafka broker), or point it at one, ' +
        `e.g. ${TEST_ENV.kafkaBrokers}=127.0.0.1:19092 after \`mfsim stack up\`.`,
    );
  }
  const brokers = raw.split(',').map((b) => b.trim()).filter(Boolean);
  for (const broker of brokers) {
    if (!/^[^\s:]+:\d{1,5}$/.test(broker)) {
      throw new TestEnvironmentError(`${TEST_ENV.kafkaBrokers}: "${broker}" is not host:port`);
    }
  }
  return brokers;
}

/** The Redis URL for integration tests (MFSIM_TEST_REDIS_URL or the local default). */
export function testRedisUrl(): string {
  return process.env[TEST_ENV.redisUrl]?.trim() || DEFAULT_TEST_REDIS_URL;
}

/** A PostgreSQL URL that may CREATE/DROP DATABASE (MFSIM_TEST_DATABASE_URL or the local default). */
export function testDatabaseAdminUrl(): string {
  return process.env[TEST_ENV.databaseUrl]?.trim() || DEFAULT_TEST_DATABASE_ADMIN_URL;
}

/**
 * A name no other test or run uses: `<prefix>-<time>-<random>`, lower case, [a-z0-9-] only, so it
 * is valid as a Kafka topic or group name and in a Redis key. For a SQL identifier, replace '-'
 * with '_'.
 */
export function uniqueId(prefix = 'it'): string {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '') || 'it';
  return `${clean}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}
