/**
 * The five services as a `Cluster` for the distributed runner: set-up and read-back over each
 * service's HTTP API, root calls over Kafka (`<subsys>.call.v1`), their results from
 * `user.reply.v1`. A call that gets no answer is sent again (every service answers a repeated
 * call from its records), so a service restarted mid-incident does not stall the run.
 */
import { randomUUID } from 'node:crypto';

import { Admin, Consumer, Producer } from 'kafkajs';

import { callTopic, HopHost, parseEnvelope, topicName, Topics } from '@mfsim/contracts';
import {
  decodeJson,
  decodeState,
  encodeJson,
  encodeState,
  ownerOf,
  type CallRecord,
  type Kernel,
  type OpName,
  type Subsystem,
  type SubsystemState,
  type TaskCtx,
} from '@mfsim/kernel-model';
import { createKafka, EnvelopePublisher } from '@mfsim/messaging';
import { incidentTraceparent, type BootPlan, type Cluster, type RootResult } from '@mfsim/scenario';

export const SUBSYSTEMS: readonly Subsystem[] = ['pmem', 'dax', 'dm', 'xfs', 'mm'];
export const SERVICE_OF: Record<Subsystem, string> = { pmem: 'pmem-driver', dax: 'dax-core', dm: 'dm-mapper', xfs: 'xfs-fs', mm: 'mm-process' };

/** A failure meant for a person: one line, no stack trace. */
export class ClusterError extends Error {
  override readonly name = 'ClusterError';
}

export interface KafkaClusterOptions {
  readonly brokers: readonly string[];
  readonly topicPrefix: string;
  /** Base URLs of each subsystem's service (any replica answers). */
  readonly serviceUrls: Readonly<Record<Subsystem, readonly string[]>>;
  /** How long one root call may take before the run gives up (ms). */
  readonly callTimeoutMs?: number;
  /** Resend an unanswered root call after this long (ms). */
  readonly resendAfterMs?: number;
  /** Remove the run's state from the services when closing. */
  readonly dropOnClose?: boolean;
  /** Sent as `Authorization: Bearer …` with every request (the services' MFSIM_ADMIN_TOKEN). */
  readonly adminToken?: string;
}

interface Waiter {
  resolve: (r: RootResult) => void;
}

export class KafkaCluster implements Cluster {
  /** The run (namespace) the current scenario uses; a new one at each set-up. */
  run = newRunId();
  private readonly waiters = new Map<string, Waiter>();
  private readonly early = new Map<string, RootResult>();
  private setUp = false;

  private constructor(
    private readonly options: KafkaClusterOptions,
    private readonly producer: Producer,
    private readonly consumer: Consumer,
    private readonly publisher: EnvelopePublisher,
  ) {}

  /** Connects to Kafka and listens for root results before anything is sent. */
  static async connect(options: KafkaClusterOptions): Promise<KafkaCluster> {
    const kafka = createKafka({ clientId: 'mfsim-cli', brokers: options.brokers, logger: { log: () => undefined, warn: () => undefined, error: () => undefined } });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const groupId = `${options.topicPrefix}mfsim-cli-${randomUUID()}`;
    const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
    const admin = kafka.admin();
    try {
      await Promise.all([producer.connect(), consumer.connect(), admin.connect()]);
    } catch (err) {
      await Promise.allSettled([producer.disconnect(), consumer.disconnect(), admin.disconnect()]);
      throw new ClusterError(`Kafka at ${options.brokers.join(',')} does not answer (${err instanceof Error ? err.message : String(err)}): is the stack up? (npx mfsim stack up)`);
    }
    const publisher = new EnvelopePublisher({ producer, topicPrefix: options.topicPrefix, source: 'mfsim-cli' });
    const cluster = new KafkaCluster(options, producer, consumer, publisher);
    const topic = topicName(options.topicPrefix, Topics.USER_REPLY);
    try {
      await cluster.listen(consumer, admin, topic);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    return cluster;
  }

  private async listen(consumer: Consumer, admin: Admin, topic: string): Promise<void> {
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await consumer.subscribe({ topic, fromBeginning: false });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (!message.value) return;
        let json: unknown;
        try {
          json = JSON.parse(message.value.toString('utf8'));
        } catch {
          return;
        }
        const parsed = parseEnvelope(Topics.USER_REPLY, json);
        if (!parsed.ok) return;
        const d = parsed.envelope.data;
        const r: RootResult = d.panic !== null ? { panic: d.panic } : d.error !== null ? { error: d.error } : { result: decodeJson(d.result ?? 'null') };
        const waiter = this.waiters.get(d.id);
        if (waiter) waiter.resolve(r);
        else this.early.set(d.id, r);
      },
    });
    await Promise.race([joined, sleep(30_000).then(() => Promise.reject(new ClusterError(`could not join a consumer group on ${topic} within 30 s`)))]);
    // Start at the end of the topic as it is now: only this run's replies matter.
    const offsets = await admin.fetchTopicOffsets(topic);
    for (const p of offsets) consumer.seek({ topic, partition: p.partition, offset: p.high });
  }

  async setup(plan: BootPlan): Promise<void> {
    if (this.setUp && this.options.dropOnClose) await this.dropRun();
    this.run = newRunId();
    for (const subsys of SUBSYSTEMS) {
      const entities = encodeState(subsys, plan.kernel[subsys] as SubsystemState);
      const body: { entities: [string, string][]; rmap?: string } = { entities: [...entities] };
      if (subsys === 'xfs') {
        const rows: { fs: string; agno: bigint; rec: unknown }[] = [];
        for (const mp of plan.kernel.xfs.mounts.values()) mp.rmap.forEach((ag, agno) => ag.toRecords().forEach((rec) => rows.push({ fs: mp.name, agno: BigInt(agno), rec })));
        body.rmap = encodeJson(rows);
      }
      await this.http(subsys, 'POST', `/runs/${this.run}`, body);
    }
    this.setUp = true;
  }

  async call(id: string, op: OpName, args: unknown, ctx: TaskCtx): Promise<RootResult> {
    const timeoutMs = this.options.callTimeoutMs ?? 120_000;
    const resendMs = this.options.resendAfterMs ?? 5000;
    const answered = new Promise<RootResult>((resolve) => this.waiters.set(id, { resolve }));
    const early = this.early.get(id);
    if (early) return this.finish(id, early);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.send(id, op, args, ctx);
      const r = await Promise.race([answered, sleep(Math.min(resendMs, Math.max(0, deadline - Date.now()))).then(() => null)]);
      if (r) return this.finish(id, r);
      if (Date.now() >= deadline) {
        this.waiters.delete(id);
        throw new ClusterError(`incident ${id} (${op}) did not finish within ${Math.round(timeoutMs / 1000)} s: is every service up? (npx mfsim stack status)`);
      }
    }
  }

  private finish(id: string, r: RootResult): RootResult {
    this.waiters.delete(id);
    this.early.delete(id);
    if (r.error !== undefined) throw new ClusterError(`the services refused the call: ${r.error}`);
    return r;
  }

  private async send(id: string, op: OpName, args: unknown, ctx: TaskCtx): Promise<void> {
    const to = ownerOf(op) as HopHost;
    // The incident's trace id is its uuid: the services' spans of this root call (and of every
    // call it makes) join the trace this header starts (docs/distributed-mode.md, "Tracing").
    const traceparent = incidentTraceparent(id.split('.')[0] as string);
    await this.publisher.publish({
      topic: callTopic(to),
      key: `${this.run}:${id}`,
      data: { run: this.run, id, op, args: encodeJson(args), ctx: { current: ctx.current }, chain: id, from: 'user' },
      causedBy: { id: null, failureId: id.split('.')[0] as string },
      ...(traceparent ? { headers: { traceparent } } : {}),
    });
  }

  async kernel(): Promise<Kernel> {
    const k: Record<string, unknown> = { panic: null };
    for (const subsys of SUBSYSTEMS) {
      const body = (await this.http(subsys, 'GET', `/runs/${this.run}/state`)) as { entities: [string, string][] };
      k[subsys] = decodeState(subsys, new Map(body.entities));
    }
    return k as unknown as Kernel;
  }

  async records(rootId: string): Promise<Map<string, CallRecord>> {
    const incident = rootId.split('.')[0] as string;
    const out = new Map<string, CallRecord>();
    for (const subsys of SUBSYSTEMS) {
      const body = (await this.http(subsys, 'GET', `/runs/${this.run}/calls?incident=${incident}`)) as { records: string };
      for (const rec of decodeJson(body.records) as CallRecord[]) out.set(rec.id, rec);
    }
    return out;
  }

  private async dropRun(): Promise<void> {
    for (const subsys of SUBSYSTEMS) await this.http(subsys, 'DELETE', `/runs/${this.run}`).catch(() => undefined);
  }

  async close(): Promise<void> {
    if (this.setUp && this.options.dropOnClose) await this.dropRun();
    await Promise.allSettled([this.consumer.disconnect(), this.producer.disconnect()]);
  }

  /** One request to a subsystem's service, trying each replica in turn. */
  private async http(subsys: Subsystem, method: string, path: string, body?: unknown, attempt = 0): Promise<unknown> {
    const urls = this.options.serviceUrls[subsys];
    let last = '';
    for (const base of urls) {
      let response: Response;
      try {
        response = await fetch(`${base}${path}`, {
          method,
          headers: {
            ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
            ...(this.options.adminToken ? { authorization: `Bearer ${this.options.adminToken}` } : {}),
          },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          signal: AbortSignal.timeout(120_000),
        });
      } catch (err) {
        last = `${base}: ${err instanceof Error ? (err.cause instanceof Error ? err.cause.message : err.message) : String(err)}`;
        continue;
      }
      if (response.status === 204) return undefined;
      const text = await response.text();
      // A read answered 5xx is a store the service could not reach for a moment (a Redis
      // connection being re-established after a fault): reads are idempotent, ask again, bounded.
      if (method === 'GET' && response.status >= 500 && attempt < READ_RETRIES) {
        await new Promise((resolve) => setTimeout(resolve, READ_RETRY_MS));
        return this.http(subsys, method, path, body, attempt + 1);
      }
      if (!response.ok) throw new ClusterError(`${SERVICE_OF[subsys]} answered ${method} ${path} with ${response.status}: ${messageOf(text)}`);
      return text.length > 0 ? JSON.parse(text) : undefined;
    }
    throw new ClusterError(`${SERVICE_OF[subsys]} does not answer (${last || 'no URL'}): is the stack up? (npx mfsim stack up)`);
  }
}

/** How often, and how far apart, a read answered 5xx is asked again (10 s in all). */
const READ_RETRIES = 20;
const READ_RETRY_MS = 500;

function newRunId(): string {
  return `r${randomUUID().replace(/-/g, '').slice(0, 16)}`;
}

function messageOf(text: string): string {
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message;
    return typeof m === 'string' ? m : text.slice(0, 200);
  } catch {
    return text.slice(0, 200);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
