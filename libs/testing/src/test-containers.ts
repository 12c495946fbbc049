/**
 * Kafka, PostgreSQL and Redis for the integration tests as throwaway containers (testcontainers),
 * for a machine that has a Docker engine and no MFSIM_TEST_* variables (test-servers.ts decides).
 *
 * testcontainers and its modules are devDependencies of this package, loaded with `import()` only
 * when startTestContainers() runs: without a Docker engine nothing here is loaded.
 *
 * Images (the versions the Compose stack uses):
 *   Kafka       apache/kafka:<deploy/kafka/VERSION>, single-node KRaft (broker+controller), with
 *               the same broker settings as the JVM test broker (SINGLE_NODE_BROKER_SETTINGS)
 *   PostgreSQL  postgres:<POSTGRES_VERSION in .env>   (15-alpine)
 *   Redis       redis:<REDIS_VERSION in .env>         (7.4-alpine)
 *
 * NOT YET RUN AGAINST A REAL ENGINE: the machines this was written on have no Docker engine. The
 * unit tests cover the decision, the images, the broker settings and that the modules load.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';

import type { StartedTestContainer } from 'testcontainers';

import { REPO_ROOT, SINGLE_NODE_BROKER_SETTINGS, kafkaVersion, sleep, waitForKafkaReady } from '@mfsim/stack';

import { TEST_SERVER_ENV, type TestServerKind } from './test-servers';

/** Image versions when .env does not say (it does: POSTGRES_VERSION, REDIS_VERSION). */
export const DEFAULT_POSTGRES_IMAGE_TAG = '15-alpine';
export const DEFAULT_REDIS_IMAGE_TAG = '7.4-alpine';

export interface TestContainerImages {
  kafka: string;
  postgres: string;
  redis: string;
}

/** KEY=value lines of a Compose .env file (no quotes, no trailing comments: see .env's header). */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

/** The images, from deploy/kafka/VERSION and the repo's .env (the Compose stack's versions). */
export function testContainerImages(root: string = REPO_ROOT): TestContainerImages {
  let dotEnv: Record<string, string> = {};
  try {
    dotEnv = parseDotEnv(readFileSync(path.join(root, '.env'), 'utf8'));
  } catch {
    // no .env: the defaults below
  }
  return {
    kafka: `apache/kafka:${kafkaVersion()}`,
    postgres: `postgres:${dotEnv.POSTGRES_VERSION || DEFAULT_POSTGRES_IMAGE_TAG}`,
    redis: `redis:${dotEnv.REDIS_VERSION || DEFAULT_REDIS_IMAGE_TAG}`,
  };
}

// ---- Kafka in a container ------------------------------------------------------------------------
//
// Clients on the host reach the broker at <host>:<mapped port of 9092>, and the broker must
// advertise exactly that, which is known only once the container runs. So the container starts a
// shell that waits for a file, the advertised listener is written into it, and only then does the
// image's own start script (/etc/kafka/docker/run) configure and launch the broker.

/** The client listener (published on a random host port). */
export const KAFKA_CONTAINER_PORT = 9092;
const KAFKA_ENV_FILE = '/tmp/mfsim-kafka.env';
const KAFKA_READY_FLAG = '/tmp/mfsim-kafka.ready';
const KAFKA_WAITING_LINE = 'mfsim: waiting for the advertised listener';

/** The container's command: wait for the listener file, then the image's start script. */
export const KAFKA_CONTAINER_COMMAND: readonly string[] = [
  'sh',
  '-c',
  `echo '${KAFKA_WAITING_LINE}'; while [ ! -f ${KAFKA_READY_FLAG} ]; do sleep 0.1; done; . ${KAFKA_ENV_FILE}; exec /etc/kafka/docker/run`,
];

/** `num.io.threads` → `KAFKA_NUM_IO_THREADS` (how the apache/kafka image reads its settings). */
export function kafkaEnvName(property: string): string {
  if (!/^[a-z0-9.]+$/.test(property)) throw new Error(`no KAFKA_* variable for ${property}`);
  return `KAFKA_${property.toUpperCase().replace(/\./g, '_')}`;
}

/** The container's environment: KRaft single node, listeners, and SINGLE_NODE_BROKER_SETTINGS. */
export function kafkaContainerEnvironment(opts: { clusterId: string; heapMb: number }): Record<string, string> {
  return {
    CLUSTER_ID: opts.clusterId,
    KAFKA_NODE_ID: '1',
    KAFKA_PROCESS_ROLES: 'broker,controller',
    // PLAINTEXT: clients on the host. BROKER: the broker to itself. CONTROLLER: KRaft.
    KAFKA_LISTENERS: `PLAINTEXT://:${KAFKA_CONTAINER_PORT},BROKER://:9093,CONTROLLER://:9094`,
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'PLAINTEXT:PLAINTEXT,BROKER:PLAINTEXT,CONTROLLER:PLAINTEXT',
    KAFKA_INTER_BROKER_LISTENER_NAME: 'BROKER',
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    KAFKA_CONTROLLER_QUORUM_VOTERS: '1@localhost:9094',
    KAFKA_LOG_DIRS: '/var/lib/kafka/data',
    ...Object.fromEntries(Object.entries(SINGLE_NODE_BROKER_SETTINGS).map(([k, v]) => [kafkaEnvName(k), v])),
    KAFKA_HEAP_OPTS: `-Xmx${opts.heapMb}m -Xms${Math.min(64, opts.heapMb)}m`,
  };
}

/** What KAFKA_ADVERTISED_LISTENERS becomes once the host port is known. */
export function kafkaAdvertisedListeners(host: string, mappedPort: number): string {
  return `PLAINTEXT://${host}:${mappedPort},BROKER://localhost:9093`;
}

// ---- Loading testcontainers (only here) ----------------------------------------------------------

type TestcontainersModule = typeof import('testcontainers');
type PostgresModule = typeof import('@testcontainers/postgresql');
type RedisModule = typeof import('@testcontainers/redis');

/** A CommonJS package through import(): its exports, whether Node put them on the namespace or on `default`. */
function cjsExports<T extends object>(ns: T & { default?: unknown }, probe: keyof T): T {
  if (ns[probe] !== undefined) return ns;
  return (ns.default ?? ns) as T;
}

/** Loads testcontainers and its PostgreSQL/Redis modules. Throws a clear error when they are not installed. */
export async function loadTestcontainers(): Promise<{ tc: TestcontainersModule; pg: PostgresModule; redis: RedisModule }> {
  try {
    const [tc, pg, redis] = await Promise.all([import('testcontainers'), import('@testcontainers/postgresql'), import('@testcontainers/redis')]);
    return {
      tc: cjsExports(tc, 'GenericContainer'),
      pg: cjsExports(pg, 'PostgreSqlContainer'),
      redis: cjsExports(redis, 'RedisContainer'),
    };
  } catch (err) {
    throw new Error(
      `testcontainers could not be loaded (${(err as Error).message}). It is a devDependency of @mfsim/testing: run \`npm ci\` at the repo root, or set MFSIM_TEST_NO_CONTAINERS=1.`,
    );
  }
}

// ---- Starting them -------------------------------------------------------------------------------

export interface StartTestContainersOptions {
  kinds: readonly TestServerKind[];
  /** Default testContainerImages(). */
  images?: Partial<TestContainerImages>;
  /** Kafka's maximum heap in MiB. Default 384 (as the JVM test broker). */
  kafkaHeapMb?: number;
  /** How long each server may take once its container runs. Default 120 s. */
  readyTimeoutMs?: number;
  log?: (line: string) => void;
  /** Aborting stops whatever has started and makes startTestContainers reject. */
  signal?: AbortSignal;
}

export interface StartedTestServer {
  kind: TestServerKind;
  image: string;
  /** The MFSIM_TEST_* variable and its value for the tests. */
  envVar: string;
  value: string;
  containerId: string;
  startupMs: number;
}

export interface TestContainersHandle {
  servers: StartedTestServer[];
  /** MFSIM_TEST_* for the tests' environment. */
  env: Record<string, string>;
  /** Stops and removes every container. Safe to call twice. */
  stop(): Promise<void>;
}

/** The last `max` lines a container wrote (for error messages). */
function lineBuffer(max = 40): { consume: (stream: Readable) => void; tail: () => string } {
  const lines: string[] = [];
  let partial = '';
  return {
    consume(stream) {
      stream.on('data', (chunk: Buffer | string) => {
        const parts = (partial + chunk.toString()).split('\n');
        partial = parts.pop() ?? '';
        lines.push(...parts);
        if (lines.length > max) lines.splice(0, lines.length - max);
      });
      stream.on('error', () => undefined);
    },
    tail: () => [...lines, partial].filter(Boolean).join('\n'),
  };
}

/** host:port in a URL (brackets for an IPv6 literal). */
function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function abortError(): Error {
  return new Error('test container start aborted');
}

async function startKafka(
  mods: { tc: TestcontainersModule },
  image: string,
  opts: { heapMb: number; readyTimeoutMs: number; signal?: AbortSignal; onStarted: (c: StartedTestContainer) => void },
): Promise<{ value: string; container: StartedTestContainer }> {
  const { tc } = mods;
  const logs = lineBuffer();
  const clusterId = randomBytes(16).toString('base64url').replace(/^-/, 'A');
  const container = await new tc.GenericContainer(image)
    .withExposedPorts(KAFKA_CONTAINER_PORT)
    .withEnvironment(kafkaContainerEnvironment({ clusterId, heapMb: opts.heapMb }))
    .withCommand([...KAFKA_CONTAINER_COMMAND])
    .withWaitStrategy(tc.Wait.forLogMessage(KAFKA_WAITING_LINE))
    .withStartupTimeout(opts.readyTimeoutMs)
    .withLogConsumer(logs.consume)
    .start();
  opts.onStarted(container);
  if (opts.signal?.aborted) throw abortError();

  const host = container.getHost();
  const port = container.getMappedPort(KAFKA_CONTAINER_PORT);
  await container.copyContentToContainer([{ content: `export KAFKA_ADVERTISED_LISTENERS='${kafkaAdvertisedListeners(host, port)}'\n`, target: KAFKA_ENV_FILE }]);
  // A separate flag, written after the env file is complete, so the shell never reads half of it.
  await container.copyContentToContainer([{ content: '', target: KAFKA_READY_FLAG }]);

  // Notice a broker that exits (bad settings) instead of waiting for the timeout.
  const client = await tc.getContainerRuntimeClient();
  const dockerContainer = client.container.getById(container.getId());
  let exited: string | undefined;
  let watching = true;
  const watch = (async () => {
    while (watching && exited === undefined) {
      try {
        const info = await client.container.inspect(dockerContainer);
        if (!info.State.Running) exited = `container exited with code ${info.State.ExitCode}`;
      } catch (err) {
        exited = `container is gone (${(err as Error).message})`;
      }
      await sleep(1_000);
    }
  })();
  try {
    await waitForKafkaReady({ host, port, timeoutMs: opts.readyTimeoutMs, hasExited: () => exited, signal: opts.signal });
  } catch (err) {
    throw new Error(`${(err as Error).message}. Container ${container.getId().slice(0, 12)} (${image}), last lines:\n${logs.tail()}`);
  } finally {
    watching = false;
    await watch;
  }
  return { value: hostPort(host, port), container };
}

async function startPostgres(
  mods: { pg: PostgresModule },
  image: string,
  opts: { readyTimeoutMs: number; onStarted: (c: StartedTestContainer) => void },
): Promise<{ value: string; container: StartedTestContainer }> {
  // The tests need an admin URL (CREATE/DROP DATABASE): the superuser `postgres` on database `postgres`.
  const password = randomBytes(12).toString('hex');
  const container = await new mods.pg.PostgreSqlContainer(image)
    .withUsername('postgres')
    .withPassword(password)
    .withDatabase('postgres')
    .withStartupTimeout(opts.readyTimeoutMs)
    .start();
  opts.onStarted(container);
  const url = new URL('postgresql://127.0.0.1/postgres');
  url.hostname = container.getHost();
  url.port = String(container.getPort());
  url.username = 'postgres';
  url.password = password;
  return { value: url.toString(), container };
}

async function startRedis(
  mods: { redis: RedisModule },
  image: string,
  opts: { readyTimeoutMs: number; onStarted: (c: StartedTestContainer) => void },
): Promise<{ value: string; container: StartedTestContainer }> {
  const container = await new mods.redis.RedisContainer(image).withStartupTimeout(opts.readyTimeoutMs).start();
  opts.onStarted(container);
  return { value: `redis://${hostPort(container.getHost(), container.getPort())}`, container };
}

/**
 * Starts a container for each of `kinds` (in parallel) and resolves when every one answers.
 * If one fails, or `signal` aborts, the ones already started are stopped before it rejects.
 */
export async function startTestContainers(opts: StartTestContainersOptions): Promise<TestContainersHandle> {
  const log = opts.log ?? (() => undefined);
  const images = { ...testContainerImages(), ...opts.images };
  const readyTimeoutMs = opts.readyTimeoutMs ?? 120_000;
  const mods = await loadTestcontainers();
  if (opts.signal?.aborted) throw abortError();

  const started: StartedTestContainer[] = [];
  /** Stops and removes every started container; rejects naming the ones that would not stop. */
  const stopAll = async () => {
    const all = started.splice(0);
    const results = await Promise.allSettled(all.map((c) => c.stop({ timeout: 10_000 })));
    const failed = results.flatMap((r, i) => (r.status === 'rejected' ? [`${all[i]!.getId().slice(0, 12)}: ${(r.reason as Error)?.message ?? r.reason}`] : []));
    if (failed.length > 0) throw new Error(`could not stop test container(s): ${failed.join('; ')}`);
  };
  const onStarted = (c: StartedTestContainer) => {
    started.push(c);
  };

  const startOne = async (kind: TestServerKind): Promise<StartedTestServer> => {
    const t0 = Date.now();
    const image = images[kind];
    log(`${kind}: starting ${image}`);
    const r =
      kind === 'kafka'
        ? await startKafka(mods, image, { heapMb: opts.kafkaHeapMb ?? 384, readyTimeoutMs, signal: opts.signal, onStarted })
        : kind === 'postgres'
          ? await startPostgres(mods, image, { readyTimeoutMs, onStarted })
          : await startRedis(mods, image, { readyTimeoutMs, onStarted });
    return { kind, image, envVar: TEST_SERVER_ENV[kind], value: r.value, containerId: r.container.getId(), startupMs: Date.now() - t0 };
  };

  const results = await Promise.allSettled(opts.kinds.map(startOne));
  const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [`${opts.kinds[i]}: ${(r.reason as Error)?.message ?? r.reason}`] : []));
  if (failures.length > 0 || opts.signal?.aborted) {
    await stopAll().catch((err: Error) => log(err.message));
    throw opts.signal?.aborted ? abortError() : new Error(`could not start the test containers:\n${failures.join('\n')}`);
  }

  const servers = results.map((r) => (r as PromiseFulfilledResult<StartedTestServer>).value);
  let stopped = false;
  return {
    servers,
    env: Object.fromEntries(servers.map((s) => [s.envVar, s.value])),
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopAll();
    },
  };
}
