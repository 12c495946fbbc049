/**
 * The five services as integration tests need them: real Kafka (MFSIM_TEST_KAFKA_BROKERS), a
 * fresh migrated PostgreSQL database, this test's own topic, group and Redis key prefixes, and
 * each service (and replica) as a child process started the way it is deployed. Everything is
 * removed again by `stop()`.
 */
import type { Admin } from 'kafkajs';

import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

import { ALL_TOPICS } from '@mfsim/contracts';
import { findFreePorts, REPO_ROOT, RunningService, startServiceProcess, terminateProcess, waitFor } from '@mfsim/stack';

import { testKafkaBrokers, testRedisUrl, uniqueId } from './env';
import { createTestDatabase, TestDatabase } from './postgres';
import { createTestRedis, TestRedis } from './redis';
import { serviceEnvWithoutTelemetry } from './service-env';
import { createTestTopics, deleteTestGroups, deleteTestTopics, testKafka } from './topics';

export const STACK_SERVICES = ['pmem-driver', 'dax-core', 'dm-mapper', 'xfs-fs', 'mm-process'] as const;
export type StackServiceName = (typeof STACK_SERVICES)[number];
export const SUBSYSTEM_OF: Record<StackServiceName, 'pmem' | 'dax' | 'dm' | 'xfs' | 'mm'> = {
  'pmem-driver': 'pmem',
  'dax-core': 'dax',
  'dm-mapper': 'dm',
  'xfs-fs': 'xfs',
  'mm-process': 'mm',
};

export interface TestStackOptions {
  readonly replicas?: Partial<Record<StackServiceName, number>>;
  /** Extra environment for every service (e.g. OTEL_* for a trace test). */
  readonly env?: NodeJS.ProcessEnv;
  /** One service's environment changed (e.g. its DATABASE_URL through a proxy); also used by restart(). */
  readonly serviceEnv?: (name: StackServiceName, env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv;
}

export interface TestStackService extends RunningService<StackServiceName> {
  readonly replica: number;
}

export class TestStack {
  readonly services: TestStackService[] = [];

  private constructor(
    readonly id: string,
    readonly topicPrefix: string,
    readonly redisPrefix: string,
    readonly database: TestDatabase,
    readonly redis: TestRedis,
    readonly admin: Admin,
    private readonly env: NodeJS.ProcessEnv,
    private readonly envOf: (name: StackServiceName, env: NodeJS.ProcessEnv) => NodeJS.ProcessEnv = (_name, env) => env,
  ) {}

  static async start(options: TestStackOptions = {}): Promise<TestStack> {
    const id = uniqueId('stk');
    const database = await createTestDatabase();
    // The migration runner as a deployment runs it (libs/persistence depends on this library).
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'libs', 'persistence', 'bin', 'migrate.js'), 'deploy'], {
      env: { ...process.env, DATABASE_URL: database.url },
      stdio: 'pipe',
    });
    const redis = await createTestRedis(`${id}:`);
    const admin = testKafka(`${id}-admin`).admin();
    await admin.connect();
    const topicPrefix = `${id}.`;
    await createTestTopics(admin, topicPrefix, ALL_TOPICS.map((name) => ({ name, numPartitions: 4 })));
    const env = serviceEnvWithoutTelemetry({
      KAFKA_BROKERS: testKafkaBrokers().join(','),
      DATABASE_URL: database.url,
      REDIS_URL: testRedisUrl(),
      MFSIM_TOPIC_PREFIX: topicPrefix,
      MFSIM_REDIS_PREFIX: `${id}:`,
      ...(options.env ?? {}),
    });
    const stack = new TestStack(id, topicPrefix, `${id}:`, database, redis, admin, env, options.serviceEnv);
    const wanted = STACK_SERVICES.flatMap((name) => Array.from({ length: options.replicas?.[name] ?? 1 }, (_, i) => ({ name, replica: i + 1 })));
    const ports = await findFreePorts(wanted.length);
    wanted.forEach((w, i) => stack.services.push({ ...startServiceProcess(w.name, ports[i] as number, stack.envOf(w.name, env)), replica: w.replica }));
    try {
      await Promise.all(stack.services.map((s) => stack.waitHealthy(s)));
    } catch (err) {
      await stack.stop();
      throw err;
    }
    return stack;
  }

  /** Base URLs per subsystem (every replica), as the CLI's KafkaCluster takes them. */
  serviceUrls(): Record<'pmem' | 'dax' | 'dm' | 'xfs' | 'mm', string[]> {
    const out = { pmem: [] as string[], dax: [] as string[], dm: [] as string[], xfs: [] as string[], mm: [] as string[] };
    for (const s of this.services) out[SUBSYSTEM_OF[s.name]].push(`http://127.0.0.1:${s.port}`);
    return out;
  }

  service(name: StackServiceName, replica = 1): TestStackService {
    const s = this.services.find((x) => x.name === name && x.replica === replica);
    if (!s) throw new Error(`${name}#${replica} is not part of this stack`);
    return s;
  }

  /** SIGKILLs a service (no shutdown of any kind) and waits until it is gone. */
  async kill(name: StackServiceName, replica = 1): Promise<void> {
    const s = this.service(name, replica);
    s.child.kill('SIGKILL');
    await waitFor(`${name} to die`, () => (s.child.exitCode !== null || s.child.signalCode !== null ? true : undefined), 10_000, 20);
  }

  /** Starts a service again on its port with empty memory, and waits until it is healthy. */
  async restart(name: StackServiceName, replica = 1): Promise<TestStackService> {
    const old = this.service(name, replica);
    const fresh: TestStackService = { ...startServiceProcess(name, old.port, this.envOf(name, this.env)), replica };
    this.services[this.services.indexOf(old)] = fresh;
    await this.waitHealthy(fresh);
    return fresh;
  }

  /** Stops (SIGSTOP) or resumes (SIGCONT) a service's process. */
  pause(name: StackServiceName, paused: boolean, replica = 1): void {
    process.kill(this.service(name, replica).child.pid as number, paused ? 'SIGSTOP' : 'SIGCONT');
  }

  logs(): string {
    return this.services.map((s) => `--- ${s.name}#${s.replica} ---\n${s.lines.slice(-30).join('\n')}`).join('\n');
  }

  async stop(): Promise<void> {
    for (const s of this.services) {
      if (s.child.exitCode === null && s.child.signalCode === null) {
        try {
          process.kill(s.child.pid as number, 'SIGCONT');
        } catch {
          // already gone
        }
      }
    }
    await Promise.all(this.services.map((s) => terminateProcess(s.child.pid as number, { graceMs: 10_000 }).catch(() => undefined)));
    await deleteTestGroups(this.admin, this.topicPrefix).catch(() => undefined);
    await deleteTestTopics(this.admin, this.topicPrefix).catch(() => undefined);
    await this.admin.disconnect().catch(() => undefined);
    await this.redis.close().catch(() => undefined);
    await this.database.drop().catch(() => undefined);
  }

  private async waitHealthy(s: TestStackService): Promise<void> {
    await waitFor(
      `${s.name}#${s.replica} /health 200`,
      async () => {
        if (s.child.exitCode !== null) throw new Error(`${s.name} exited with ${s.child.exitCode}:\n${s.lines.slice(-20).join('\n')}`);
        const r = await fetch(`http://127.0.0.1:${s.port}/health`, { signal: AbortSignal.timeout(3000) });
        return r.status === 200 ? true : undefined;
      },
      90_000,
    );
  }
}
