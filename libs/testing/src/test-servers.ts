/**
 * Where the integration tests' Kafka, PostgreSQL and Redis come from, decided per server.
 *
 *   1. env        its MFSIM_TEST_* variable is set (what .ci/run and `mfsim stack` provide): used as is.
 *   2. container  the variable is unset, MFSIM_TEST_NO_CONTAINERS is not set to 1, and a Docker
 *                 engine answers a ping: the test runner starts it with testcontainers
 *                 (test-containers.ts) and stops it at the end.
 *   3. local      otherwise, as before containers existed: Kafka is a broker the runner starts
 *                 from the Maven jars (kafka-broker.ts); PostgreSQL and Redis are the machine's,
 *                 at the defaults in env.ts.
 *
 * This module only decides; the Docker probe is passed in, so the decision is testable without
 * an engine. The probe runs at most once, and not at all when no server would use it.
 */
import type { DockerEngineProbe } from './docker-engine';
import { DEFAULT_TEST_DATABASE_ADMIN_URL, DEFAULT_TEST_REDIS_URL, TEST_ENV } from './env';

export type TestServerKind = 'kafka' | 'postgres' | 'redis';
export type TestServerSource = 'env' | 'container' | 'local';

export const TEST_SERVER_KINDS: readonly TestServerKind[] = ['kafka', 'postgres', 'redis'];

/** Set to 1 to never start containers, even where a Docker engine answers. */
export const NO_CONTAINERS_ENV = 'MFSIM_TEST_NO_CONTAINERS';

/** The MFSIM_TEST_* variable that names each server. */
export const TEST_SERVER_ENV: Readonly<Record<TestServerKind, string>> = {
  kafka: TEST_ENV.kafkaBrokers,
  postgres: TEST_ENV.databaseUrl,
  redis: TEST_ENV.redisUrl,
};

/** What "local" means for each server, for messages. */
const LOCAL_DESCRIPTION: Readonly<Record<TestServerKind, string>> = {
  kafka: 'a broker the test runner starts from the Kafka jars (deploy/kafka)',
  postgres: `the machine's PostgreSQL (${DEFAULT_TEST_DATABASE_ADMIN_URL})`,
  redis: `the machine's Redis (${DEFAULT_TEST_REDIS_URL})`,
};

export interface TestServerChoice {
  kind: TestServerKind;
  /** MFSIM_TEST_KAFKA_BROKERS, MFSIM_TEST_DATABASE_URL or MFSIM_TEST_REDIS_URL. */
  envVar: string;
  source: TestServerSource;
  /** The variable's value, when source is 'env'. */
  value?: string;
  /** One line for the run's log: what is used and why. */
  why: string;
}

export interface TestServerPlan {
  choices: TestServerChoice[];
  /** The Docker probe's answer, when it was asked (undefined: not needed, or opted out). */
  docker?: DockerEngineProbe;
  /** True when MFSIM_TEST_NO_CONTAINERS opted out of containers. */
  containersOptedOut: boolean;
}

export interface PlanTestServersOptions {
  /** Usually process.env. */
  env: Readonly<Record<string, string | undefined>>;
  /** The servers to plan for. Default: all three. */
  kinds?: readonly TestServerKind[];
  /** Asks whether a Docker engine answers (docker-engine.ts probeDockerEngine in real use). */
  probeDocker: () => Promise<DockerEngineProbe>;
}

/** A URL with its password shown as `***`, for logs (anything that is not a URL is returned as is). */
export function redactPassword(value: string): string {
  try {
    const url = new URL(value);
    if (!url.password) return value;
    url.password = '***';
    return url.toString();
  } catch {
    return value;
  }
}

/** True when MFSIM_TEST_NO_CONTAINERS is 1 (or true/yes). */
export function containersOptedOut(env: Readonly<Record<string, string | undefined>>): boolean {
  return /^(1|true|yes)$/i.test(env[NO_CONTAINERS_ENV]?.trim() ?? '');
}

/** Decides, per server, env → container (if a Docker engine answers) → local. */
export async function planTestServers(opts: PlanTestServersOptions): Promise<TestServerPlan> {
  const kinds = opts.kinds ?? TEST_SERVER_KINDS;
  const optedOut = containersOptedOut(opts.env);
  const fromEnv = (kind: TestServerKind) => opts.env[TEST_SERVER_ENV[kind]]?.trim() || undefined;
  const unset = kinds.filter((k) => fromEnv(k) === undefined);

  let docker: DockerEngineProbe | undefined;
  if (unset.length > 0 && !optedOut) docker = await opts.probeDocker();

  const choices = kinds.map((kind): TestServerChoice => {
    const envVar = TEST_SERVER_ENV[kind];
    const value = fromEnv(kind);
    if (value !== undefined) return { kind, envVar, source: 'env', value, why: `${envVar}=${redactPassword(value)}` };
    if (docker?.available) {
      return { kind, envVar, source: 'container', why: `${envVar} is unset and a Docker engine answers at ${docker.endpoint}: a container` };
    }
    const because = optedOut ? `${NO_CONTAINERS_ENV}=${opts.env[NO_CONTAINERS_ENV]?.trim()}` : `no Docker engine (${docker?.reason ?? 'not probed'})`;
    return { kind, envVar, source: 'local', why: `${envVar} is unset, ${because}: ${LOCAL_DESCRIPTION[kind]}` };
  });
  return { choices, ...(docker ? { docker } : {}), containersOptedOut: optedOut };
}
