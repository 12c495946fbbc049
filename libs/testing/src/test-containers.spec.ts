/**
 * What can be checked of the container path without a Docker engine: the images it would run,
 * the Kafka container's settings, and that testcontainers and its modules load. Starting the
 * containers needs an engine, which the machines this runs on do not have.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';

import { REPO_ROOT, SINGLE_NODE_BROKER_SETTINGS, kafkaVersion } from '@mfsim/stack';

import {
  KAFKA_CONTAINER_COMMAND,
  kafkaAdvertisedListeners,
  kafkaContainerEnvironment,
  kafkaEnvName,
  loadTestcontainers,
  parseDotEnv,
  testContainerImages,
} from './test-containers';

describe('test container images', () => {
  it('are the versions the Compose stack pins (.env) and the Kafka of deploy/kafka/VERSION', () => {
    const dotEnv = parseDotEnv(readFileSync(path.join(REPO_ROOT, '.env'), 'utf8'));
    const images = testContainerImages();
    assert.deepEqual(images, {
      kafka: `apache/kafka:${kafkaVersion()}`,
      postgres: `postgres:${dotEnv.POSTGRES_VERSION}`,
      redis: `redis:${dotEnv.REDIS_VERSION}`,
    });
    assert.equal(dotEnv.KAFKA_VERSION, kafkaVersion());
    assert.equal(images.postgres, 'postgres:15-alpine');
    assert.equal(images.redis, 'redis:7.4-alpine');
  });

  it('fall back to the same pins without a .env', () => {
    const images = testContainerImages(path.join(REPO_ROOT, 'no-such-dir'));
    assert.equal(images.postgres, 'postgres:15-alpine');
    assert.equal(images.redis, 'redis:7.4-alpine');
  });

  it('parseDotEnv reads KEY=value lines and skips comments and blanks', () => {
    assert.deepEqual(parseDotEnv('# c\n\nA=1\r\n B = two words \nNOEQ\n=x\nC=\n'), { A: '1', B: 'two words', C: '' });
  });
});

describe('Kafka container settings', () => {
  it('maps broker properties to the variables the apache/kafka image reads', () => {
    assert.equal(kafkaEnvName('num.io.threads'), 'KAFKA_NUM_IO_THREADS');
    assert.equal(kafkaEnvName('share.coordinator.state.topic.min.isr'), 'KAFKA_SHARE_COORDINATOR_STATE_TOPIC_MIN_ISR');
    assert.throws(() => kafkaEnvName('log_dirs'), /no KAFKA_\* variable/);
  });

  it('is a single-node KRaft broker with every setting of the JVM test broker', () => {
    const env = kafkaContainerEnvironment({ clusterId: 'AAAAAAAAAAAAAAAAAAAAAA', heapMb: 384 });
    assert.equal(env.CLUSTER_ID, 'AAAAAAAAAAAAAAAAAAAAAA');
    assert.equal(env.KAFKA_PROCESS_ROLES, 'broker,controller');
    assert.equal(env.KAFKA_CONTROLLER_QUORUM_VOTERS, '1@localhost:9094');
    assert.equal(env.KAFKA_LISTENERS, 'PLAINTEXT://:9092,BROKER://:9093,CONTROLLER://:9094');
    assert.equal(env.KAFKA_HEAP_OPTS, '-Xmx384m -Xms64m');
    for (const [key, value] of Object.entries(SINGLE_NODE_BROKER_SETTINGS)) assert.equal(env[kafkaEnvName(key)], value, key);
    assert.equal(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE, 'false');
    // Set only once the host port is known (KAFKA_CONTAINER_COMMAND waits for it).
    assert.equal(env.KAFKA_ADVERTISED_LISTENERS, undefined);
  });

  it('advertises the host and mapped port to clients, and waits for them before starting the broker', () => {
    assert.equal(kafkaAdvertisedListeners('localhost', 32771), 'PLAINTEXT://localhost:32771,BROKER://localhost:9093');
    assert.equal(KAFKA_CONTAINER_COMMAND[0], 'sh');
    assert.match(KAFKA_CONTAINER_COMMAND[2]!, /while \[ ! -f \/tmp\/mfsim-kafka\.ready \]; .*\. \/tmp\/mfsim-kafka\.env; exec \/etc\/kafka\/docker\/run$/);
  });
});

describe('loadTestcontainers', () => {
  it('loads testcontainers and its PostgreSQL and Redis modules (without contacting an engine)', async () => {
    const { tc, pg, redis } = await loadTestcontainers();
    assert.equal(typeof tc.GenericContainer, 'function');
    assert.equal(typeof tc.Wait.forLogMessage, 'function');
    assert.equal(typeof tc.getContainerRuntimeClient, 'function');
    assert.equal(typeof pg.PostgreSqlContainer, 'function');
    assert.equal(typeof redis.RedisContainer, 'function');
  });
});
