/**
 * Application faults, switched on in the services themselves or done to their messages:
 *
 *   slow-handler    delayMs: each hop step of the target service sleeps that long
 *                   (POST /chaos/flags {"slowHandlerMs"}); seen when the service confirms the
 *                   flag and reports steps slowed
 *   consumer-delay  delayMs: the target's consumer sleeps before each message, so lag builds
 *                   (POST /chaos/flags {"consumerDelayMs"}); seen when it reports messages
 *                   delayed, with the consumer group's lag
 *   duplicate       copies (1): the nemesis reads the target's call and reply topics with its own
 *                   consumer group and produces each message again `copies` times (redelivery
 *                   from outside); seen when the service's consumer group committed past a
 *                   copy. The idempotent handlers must change nothing twice (the checker judges that)
 *   malformed       everyMs (200): garbage and unknown-version envelopes produced on the target's
 *                   consumed topics, interleaved with the real traffic; seen when `<topic>.dlq` grew
 *
 * Targets: a service (`xfs-fs`: all its processes) or one process (`xfs-fs-2`); `duplicate` and
 * `malformed` also take `all` (the call and reply topics of every service). Topic names come from
 * @mfsim/contracts with the stack's MFSIM_TOPIC_PREFIX.
 */
import { randomUUID } from 'node:crypto';

import type { Admin, Consumer, Producer } from 'kafkajs';

import { callTopic, replyTopic, topicName, type HopHost } from '@mfsim/contracts';
import { createKafka } from '@mfsim/messaging';

import { SERVICES, type ServiceName } from '../../stack/config';
import type { StackState } from '../../stack/state';
import { FaultContext, FaultKind, FaultSpec, PlanError } from './fault';
import { baseSpec, intField, msField, onlyFields, pause } from './spec-fields';

export interface FlagFaultSpec extends FaultSpec {
  readonly kind: 'slow-handler' | 'consumer-delay';
  readonly delayMs: number;
}
export interface DuplicateSpec extends FaultSpec {
  readonly kind: 'duplicate';
  readonly copies: number;
}
export interface MalformedSpec extends FaultSpec {
  readonly kind: 'malformed';
  readonly everyMs: number;
}

const SUBSYS_OF: Record<ServiceName, HopHost> = { 'pmem-driver': 'pmem', 'dax-core': 'dax', 'dm-mapper': 'dm', 'xfs-fs': 'xfs', 'mm-process': 'mm' };
const SERVICE_NAMES = SERVICES.map((s) => s.name) as readonly string[];

/** The service a target names (`xfs-fs`, `xfs-fs-2`), or undefined. */
function serviceOf(target: string): ServiceName | undefined {
  const name = /^(.+?)(-\d+)?$/.exec(target)?.[1] ?? target;
  if (SERVICE_NAMES.includes(target)) return target as ServiceName;
  return SERVICE_NAMES.includes(name) ? (name as ServiceName) : undefined;
}

function serviceTarget(spec: FaultSpec, path: string, allowAll: boolean): void {
  if (allowAll && spec.target === 'all') return;
  if (!serviceOf(spec.target)) {
    throw new PlanError(`${path}.target`, `"${spec.target}" is not a service: expected ${SERVICE_NAMES.join(', ')}, a replica like xfs-fs-2${allowAll ? ', or all' : ''}`);
  }
}

/** Why `target` names no process of the running stack, or undefined. */
function processRefusal(target: string, state: StackState): string | undefined {
  if (target === 'all') return undefined;
  const ids = Object.entries(state.services).filter(([id, rec]) => id === target || (rec.name ?? id) === target);
  return ids.length > 0 ? undefined : `no such service process in the stack (have: ${Object.keys(state.services).join(', ')})`;
}

/** The HTTP base URLs of the processes a target names, from the stack's state. */
function processUrls(target: string, ctx: FaultContext): { id: string; url: string }[] {
  const services = ctx.state().services;
  const out = Object.entries(services)
    .filter(([id, rec]) => id === target || (rec.name ?? id) === target)
    .map(([id, rec]) => ({ id, url: `http://127.0.0.1:${rec.port}` }));
  if (out.length === 0) throw new Error(`${target}: no such service process in the stack (have: ${Object.keys(services).join(', ')})`);
  return out;
}

interface Flags {
  slowHandlerMs: number;
  consumerDelayMs: number;
  stepsSlowed: number;
  messagesDelayed: number;
}

async function flagsRequest(url: string, ctx: FaultContext, body?: Partial<Flags>): Promise<Flags> {
  const token = ctx.adminToken ?? ctx.state().adminToken;
  const res = await fetch(`${url}/chaos/flags`, {
    method: body ? 'POST' : 'GET',
    headers: { ...(body ? { 'content-type': 'application/json' } : {}), ...(body && token ? { authorization: `Bearer ${token}` } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${body ? 'POST' : 'GET'} ${url}/chaos/flags: ${res.status} ${text.slice(0, 200)}`);
  return JSON.parse(text) as Flags;
}

function brokers(ctx: FaultContext): string[] {
  return [`127.0.0.1:${ctx.state().kafka?.port ?? ctx.config.kafka.port}`];
}

/** The topics the target's services consume: their call and reply topics (physical names). */
function consumedTopics(target: string, ctx: FaultContext): string[] {
  const services = target === 'all' ? (SERVICE_NAMES as ServiceName[]) : [serviceOf(target) as ServiceName];
  return services.flatMap((s) => [callTopic(SUBSYS_OF[s]), replyTopic(SUBSYS_OF[s])]).map((t) => topicName(ctx.config.topicPrefix, t));
}

/** The service whose group consumes each physical call/reply topic. */
function topicServices(prefix: string): Map<string, ServiceName> {
  const out = new Map<string, ServiceName>();
  for (const s of SERVICE_NAMES as ServiceName[]) for (const t of [callTopic(SUBSYS_OF[s]), replyTopic(SUBSYS_OF[s])]) out.set(topicName(prefix, t), s);
  return out;
}

/** Marks the nemesis's copies (the services ignore unknown headers). */
export const COPY_HEADER = 'mfsim-nemesis-copy';

const quiet = { log: () => undefined, warn: () => undefined, error: () => undefined };

/** Total messages ever written to each of `topics` (sum of the partitions' high-water marks). */
async function topicTotals(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const t of topics) {
    const offsets = await admin.fetchTopicOffsets(t);
    out.set(t, offsets.reduce((sum, o) => sum + Number(o.high), 0));
  }
  return out;
}

/** The lag of a consumer group on `topics` (messages written and not yet committed). */
async function groupLag(admin: Admin, groupId: string, topics: string[]): Promise<number> {
  let lag = 0;
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const t of committed) {
    const ends = await admin.fetchTopicOffsets(t.topic);
    for (const p of t.partitions) {
      const end = Number(ends.find((e) => e.partition === p.partition)?.high ?? 0);
      const at = Number(p.offset);
      lag += Math.max(0, end - (at < 0 ? 0 : at));
    }
  }
  return lag;
}

function flagFault(kind: 'slow-handler' | 'consumer-delay', summary: string): FaultKind<FlagFaultSpec> {
  const flag = kind === 'slow-handler' ? 'slowHandlerMs' : 'consumerDelayMs';
  const counter = kind === 'slow-handler' ? 'stepsSlowed' : 'messagesDelayed';
  return {
    kind,
    summary,
    parse(raw, path) {
      onlyFields(raw, path, ['delayMs']);
      const base = baseSpec(raw, path);
      serviceTarget(base, path, false);
      return { ...base, kind, delayMs: msField(raw, path, 'delayMs', undefined, 1, 600_000) };
    },
    preflight: (spec, state) => processRefusal(spec.target, state),
    async start(spec, ctx) {
      const procs = processUrls(spec.target, ctx);
      const before = new Map<string, number>();
      for (const p of procs) {
        const now = await flagsRequest(p.url, ctx, { [flag]: spec.delayMs });
        if (now[flag] !== spec.delayMs) throw new Error(`${p.id} did not take ${flag}=${spec.delayMs} (it says ${now[flag]})`);
        before.set(p.id, now[counter]);
      }
      ctx.say(`${kind} on ${spec.target}: ${flag}=${spec.delayMs} set on ${procs.map((p) => p.id).join(', ')}`);
      const effect = (async () => {
        const deadline = Date.now() + Math.max(spec.forMs, 5000);
        while (Date.now() < deadline && !ctx.signal.aborted) {
          for (const p of procs) {
            const now = await flagsRequest(p.url, ctx).catch(() => undefined);
            if (now && now[flag] === spec.delayMs && now[counter] > (before.get(p.id) ?? 0)) {
              let lag = '';
              if (kind === 'consumer-delay') {
                const admin = createKafka({ clientId: 'mfsim-nemesis', brokers: brokers(ctx), logger: quiet }).admin();
                try {
                  await admin.connect();
                  const group = `${ctx.config.topicPrefix}${serviceOf(spec.target)}`;
                  lag = `; group ${group} lag ${await groupLag(admin, group, consumedTopics(spec.target, ctx))}`;
                } catch {
                  lag = '';
                } finally {
                  await admin.disconnect().catch(() => undefined);
                }
              }
              return `${p.id} confirms ${flag}=${spec.delayMs}; ${now[counter] - (before.get(p.id) ?? 0)} ${counter === 'stepsSlowed' ? 'steps slowed' : 'messages delayed'}${lag}`;
            }
          }
          await pause(100, ctx.signal);
        }
        throw new Error(`${kind} on ${spec.target}: the flag is set but no ${counter === 'stepsSlowed' ? 'step was slowed' : 'message was delayed'} (no traffic reached it?)`);
      })();
      effect.catch(() => undefined);
      let ended: Promise<void> | undefined;
      return {
        effect,
        end: () =>
          (ended ??= (async () => {
            // A process restarted meanwhile starts with the flags off; one that is gone is fine.
            for (const p of processUrls(spec.target, ctx)) await flagsRequest(p.url, ctx, { [flag]: 0 }).catch(() => undefined);
          })()),
      };
    },
  };
}

export const slowHandlerFault = flagFault('slow-handler', 'slow handler: each hop step of a service sleeps delayMs (flag slowHandlerMs); seen when the service reports steps slowed');
export const consumerDelayFault = flagFault('consumer-delay', "consumer delay: a service's consumer sleeps delayMs before each message so lag builds (flag consumerDelayMs); seen when it reports messages delayed, with the lag");

export const duplicateFault: FaultKind<DuplicateSpec> = {
  kind: 'duplicate',
  summary: "duplicated deliveries: the nemesis re-produces each message of a service's call/reply topics copies (1) more times; seen when the service's group consumed a copy",
  parse(raw, path) {
    onlyFields(raw, path, ['copies']);
    const base = baseSpec(raw, path);
    serviceTarget(base, path, true);
    return { ...base, kind: 'duplicate', copies: intField(raw, path, 'copies', 1, 1, 10) };
  },
  preflight: (spec, state) => processRefusal(spec.target, state),
  async start(spec, ctx) {
    const kafka = createKafka({ clientId: 'mfsim-nemesis', brokers: brokers(ctx), logger: quiet });
    const topics = consumedTopics(spec.target, ctx);
    const serviceOfTopic = topicServices(ctx.config.topicPrefix);
    const groupId = `${ctx.config.topicPrefix}mfsim-nemesis-duplicate-${randomUUID().slice(0, 8)}`;
    const producer: Producer = kafka.producer({ allowAutoTopicCreation: false });
    const consumer: Consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100, allowAutoTopicCreation: false });
    let read = 0;
    let sent = 0;
    let stopped = false;
    let firstSent: (() => void) | undefined;
    let firstCopy: { topic: string; partition: number; offset: number } | undefined;
    const anySent = new Promise<void>((resolve) => (firstSent = resolve));
    const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
    await producer.connect();
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: false });
    await consumer.run({
      eachMessage: async ({ topic, message }) => {
        // Its own copies come by too: copying them again would multiply without end.
        if (stopped || message.headers?.[COPY_HEADER] !== undefined) return;
        read += 1;
        const copy = { key: message.key, value: message.value, headers: { ...(message.headers ?? {}), [COPY_HEADER]: '1' } };
        const meta = await producer.send({ topic, messages: Array.from({ length: spec.copies }, () => copy) });
        sent += spec.copies;
        const m = meta[0];
        if (!firstCopy && m?.baseOffset !== undefined) firstCopy = { topic, partition: m.partition, offset: Number(m.baseOffset) };
        firstSent?.();
      },
    });
    await joined;
    ctx.say(`duplicate on ${spec.target}: consumer group ${groupId} re-produces ${spec.copies} cop${spec.copies === 1 ? 'y' : 'ies'} of each message of ${topics.join(', ')}`);
    const effect = (async () => {
      const deadline = Date.now() + Math.max(spec.forMs, 5000);
      await Promise.race([anySent, pause(Math.max(0, deadline - Date.now()), ctx.signal)]);
      const copy = firstCopy;
      if (sent === 0 || !copy) throw new Error(`duplicate on ${spec.target}: no message came by to copy`);
      // Seen when the service's own consumer group has consumed the first copy (committed past it).
      const group = `${ctx.config.topicPrefix}${serviceOfTopic.get(copy.topic) ?? ''}`;
      const admin = kafka.admin();
      try {
        await admin.connect();
        while (!ctx.signal.aborted && Date.now() < deadline + 30_000) {
          const committed = await admin.fetchOffsets({ groupId: group, topics: [copy.topic] }).catch(() => []);
          const at = Number(committed[0]?.partitions.find((p) => p.partition === copy.partition)?.offset ?? -1);
          if (at > copy.offset) return `${group} consumed the copy at ${copy.topic}[${copy.partition}]@${copy.offset} (committed ${at}); ${sent} copies of ${read} message(s) re-produced so far`;
          await pause(200, ctx.signal);
        }
      } finally {
        await admin.disconnect().catch(() => undefined);
      }
      throw new Error(`duplicate on ${spec.target}: ${sent} copies sent but ${group} did not consume ${copy.topic}[${copy.partition}]@${copy.offset}`);
    })();
    effect.catch(() => undefined);
    let ended: Promise<void> | undefined;
    return {
      effect,
      end: () =>
        (ended ??= (async () => {
          stopped = true;
          await consumer.disconnect().catch(() => undefined);
          await producer.disconnect().catch(() => undefined);
          const admin = kafka.admin();
          await admin.connect().catch(() => undefined);
          await admin.deleteGroups([groupId]).catch(() => undefined);
          await admin.disconnect().catch(() => undefined);
          ctx.say(`duplicate on ${spec.target}: ended after ${sent} copies of ${read} message(s)`);
        })()),
    };
  },
};

/** The bad messages `malformed` sends, in turn. */
export function malformedValue(n: number, topic: string): string {
  switch (n % 3) {
    case 0:
      return `not json {{ mfsim nemesis ${n}`;
    case 1:
      return JSON.stringify({ id: randomUUID(), type: 'hop_call', version: 99, source: 'mfsim-nemesis', time: new Date().toISOString(), data: { topic } });
    default:
      return JSON.stringify({ nemesis: n, note: 'not an envelope' });
  }
}

export const malformedFault: FaultKind<MalformedSpec> = {
  kind: 'malformed',
  summary: "malformed messages: garbage and unknown-version envelopes on a service's consumed topics every everyMs (200); seen when <topic>.dlq grew",
  parse(raw, path) {
    onlyFields(raw, path, ['everyMs']);
    const base = baseSpec(raw, path);
    serviceTarget(base, path, true);
    return { ...base, kind: 'malformed', everyMs: msField(raw, path, 'everyMs', 200, 10, 60_000) };
  },
  preflight: (spec, state) => processRefusal(spec.target, state),
  async start(spec, ctx) {
    const kafka = createKafka({ clientId: 'mfsim-nemesis', brokers: brokers(ctx), logger: quiet });
    const topics = consumedTopics(spec.target, ctx);
    const dlqs = topics.map((t) => `${t}.dlq`);
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    const admin = kafka.admin();
    await Promise.all([producer.connect(), admin.connect()]);
    const baseline = await topicTotals(admin, dlqs);
    let sent = 0;
    let sending = false;
    const tick = async () => {
      if (sending) return;
      sending = true;
      try {
        const topic = topics[sent % topics.length] as string;
        await producer.send({ topic, messages: [{ key: `mfsim-nemesis-${sent}`, value: malformedValue(sent, topic) }] });
        sent += 1;
      } catch {
        // the broker may be faulted too: try again at the next tick
      } finally {
        sending = false;
      }
    };
    await tick();
    const timer = setInterval(() => void tick(), spec.everyMs);
    ctx.say(`malformed on ${spec.target}: a bad message every ${spec.everyMs} ms on ${topics.join(', ')}`);
    const effect = (async () => {
      const deadline = Date.now() + Math.max(spec.forMs, 10_000);
      while (Date.now() < deadline && !ctx.signal.aborted) {
        const now = await topicTotals(admin, dlqs).catch(() => undefined);
        const grown = now ? dlqs.filter((d) => (now.get(d) ?? 0) > (baseline.get(d) ?? 0)) : [];
        if (now && grown.length > 0) {
          return `${grown.map((d) => `${d} +${(now.get(d) ?? 0) - (baseline.get(d) ?? 0)}`).join(', ')} (${sent} malformed sent)`;
        }
        await pause(200, ctx.signal);
      }
      throw new Error(`malformed on ${spec.target}: ${sent} sent but no dead-letter topic grew (${dlqs.join(', ')})`);
    })();
    effect.catch(() => undefined);
    let ended: Promise<void> | undefined;
    return {
      effect,
      end: () =>
        (ended ??= (async () => {
          clearInterval(timer);
          while (sending) await pause(10);
          // Every bad message should reach a dead-letter topic: say how many did (within 5 s).
          let lettered = 0;
          for (const until = Date.now() + 5000; Date.now() < until; await pause(250)) {
            const now = await topicTotals(admin, dlqs).catch(() => undefined);
            if (now) lettered = dlqs.reduce((n, d) => n + (now.get(d) ?? 0) - (baseline.get(d) ?? 0), 0);
            if (lettered >= sent) break;
          }
          ctx.say(`malformed on ${spec.target}: ended; ${sent} sent, ${lettered} dead-lettered`);
          await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
        })()),
    };
  },
};

/** The application fault kinds, for the nemesis registry. */
export const APP_FAULTS: readonly FaultKind[] = [slowHandlerFault, consumerDelayFault, duplicateFault, malformedFault] as unknown as readonly FaultKind[];

