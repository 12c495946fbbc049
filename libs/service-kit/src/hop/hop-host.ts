import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';

import {
  callTopic,
  EnvelopeOf,
  HopHost as HopHostName,
  replyTopic,
  Topic,
  TOPICS,
  Topics,
} from '@mfsim/contracts';
import {
  decodeJson,
  encodeJson,
  handleIncoming,
  KERNEL_FUNCTION,
  pendingCall,
  subsystemHost,
  type CallRecord,
  type ChainHost,
  type Entities,
  type Incoming,
  type OpName,
  type Outgoing,
  type ReadName,
  type Subsystem,
} from '@mfsim/kernel-model';
import { handlerDedup } from '@mfsim/messaging';
import { HopStore, IncidentJournal, incidentOf, PgHopStore, RedisHopStore, type RmapRow, UnknownRunError } from '@mfsim/persistence';
import { Attr, incidentTraceContext, messageAttributes, withSpan } from '@mfsim/telemetry';
import { context, trace, type Span } from '@opentelemetry/api';

import { ServiceEnv } from '../env';
import { ChaosFlags } from './chaos-flags';
import { ENV, METRICS, REDIS, ServiceKafkaRuntime } from '../infrastructure.module';
import type { ServiceMetrics } from '../metrics/service-metrics';
import { NO_EFFECTS, snapshotStep, stepEffects, type StepEffects } from '../metrics/step-effects';
import type { Redis } from '@mfsim/persistence';

export const HOP_SUBSYSTEM = Symbol('HOP_SUBSYSTEM');

type CallEnvelope = EnvelopeOf<typeof Topics.MM_CALL>;
type ReplyEnvelope = EnvelopeOf<typeof Topics.MM_REPLY>;

/** How long a chain may wait on another host before its call is sent again (a lost message). */
const RESEND_AFTER_MS = 3000;
/** Incidents whose start this process remembers for their duration (a bound, not a target). */
const MAX_TRACKED_INCIDENTS = 10_000;

/**
 * The host of one subsystem: it serves the calls into its subsystem from `<subsys>.call.v1`
 * and the results of its own calls from `<subsys>.reply.v1`, one atomic step each (load state
 * and the chain's records, run or replay the hops of `@mfsim/kernel-model`, store what changed,
 * then send), and answers the set-up and read-back requests of the CLI over HTTP. It runs no
 * kernel rule of its own: every decision is the model's.
 */
@Injectable()
export class HopHost implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger: Logger;
  readonly store: HopStore;
  private readonly journal: IncidentJournal;
  /** Steps of one run run one after the other in this process (the store serialises replicas). */
  private readonly queues = new Map<string, Promise<unknown>>();
  private sweeper: NodeJS.Timeout | undefined;
  private sweeping = false;
  /** The application faults (POST /chaos/flags); property-injected so the constructor stays as it is. */
  @Inject(ChaosFlags) private readonly chaos!: ChaosFlags;
  /** Incident id → when its injection was published (ms), until its reply to the user. */
  private readonly incidentStarts = new Map<string, number>();

  constructor(
    @Inject(HOP_SUBSYSTEM) readonly subsys: Subsystem,
    @Inject(ENV) env: ServiceEnv,
    @Inject(REDIS) redis: Redis,
    private readonly kafka: ServiceKafkaRuntime,
    @Inject(METRICS) private readonly metrics: ServiceMetrics,
  ) {
    this.logger = new Logger(`hop.${subsys}`);
    this.store = subsys === 'mm' ? new RedisHopStore(redis) : new PgHopStore(subsys, env.DATABASE_URL);
    this.journal = new IncidentJournal(env.DATABASE_URL);
  }

  onApplicationBootstrap(): void {
    const handle = async (envelope: CallEnvelope | ReplyEnvelope): Promise<void> => {
      await this.chaos.beforeMessage();
      await this.onMessage(envelope);
    };
    this.kafka.start({
      handlers: { [callTopic(this.subsys as HopHostName)]: handle, [replyTopic(this.subsys as HopHostName)]: handle },
      produces: TOPICS as Topic[],
      idempotency: handlerDedup(),
      partitionsConsumedConcurrently: 4,
    });
    // At boot, then every second: calls this host made that were never answered (a message
    // lost when a process died between storing a step and sending it) are sent again.
    void this.sweep(0);
    this.sweeper = setInterval(() => void this.sweep(RESEND_AFTER_MS), 1000);
    this.sweeper.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    await this.store.close();
    await this.journal.close();
  }

  /** Set-up by the CLI: this host's part of the machine for a new run. */
  async setup(run: string, entities: Entities, rmap: readonly RmapRow[]): Promise<void> {
    await this.serial(run, () => (this.store instanceof PgHopStore ? this.store.setup(run, entities, rmap) : this.store.setup(run, entities)));
  }

  private async onMessage(envelope: CallEnvelope | ReplyEnvelope): Promise<void> {
    const data = envelope.data;
    const incoming: Incoming =
      envelope.type === 'hop_call'
        ? (() => {
            const d = data as CallEnvelope['data'];
            return { kind: 'call', id: d.id, op: d.op as OpName, args: decodeJson(d.args), ctx: d.ctx, chain: d.chain, from: d.from };
          })()
        : (() => {
            const d = data as ReplyEnvelope['data'];
            return {
              kind: 'reply',
              id: d.id,
              chain: d.chain,
              ...(d.result !== null ? { result: decodeJson(d.result) } : {}),
              ...(d.panic !== null ? { panic: d.panic } : {}),
              ...(d.error !== null ? { error: d.error } : {}),
            };
          })();
    const chain = incoming.kind === 'call' ? incoming.id : incoming.chain;
    const op = incoming.kind === 'call' ? incoming.op : undefined;
    const name = op ? KERNEL_FUNCTION[op] ?? op : `${this.subsys}_resume`;
    const publishedMs = Date.parse(envelope.occurredAt);
    await withSpan(
      name,
      {
        ...messageAttributes(envelope),
        'mfsim.call.id': incoming.id,
        'mfsim.run': data.run,
        'mfsim.step': incoming.kind,
        ...(incoming.kind === 'call' ? callAttributes(incoming.args) : {}),
      },
      async (span) => {
        const started = performance.now();
        try {
          const done = await this.serial(data.run, () => this.step(data.run, chain, incoming, publishedMs));
          for (const out of done.send) if (out.kind === 'reply' && out.result !== undefined) span.setAttribute(Attr.ERRNO, typeof out.result === 'string' ? out.result : '0');
          // Counted once the step is stored and its messages sent: what it newly did.
          const fn = done.fn ?? name;
          if (done.duplicate) this.metrics.replaySkipped(fn, incoming.kind);
          else this.metrics.hopStep(fn, done.op ?? op ?? '', incoming.kind, (Date.now() - publishedMs) / 1000, (performance.now() - started) / 1000);
          this.metrics.effects(done.effects);
        } catch (err) {
          if (err instanceof UnknownRunError) {
            // Not a transient fault: redelivering cannot help. Say so once and drop it.
            this.logger.warn(`hop.unknown_run run=${data.run} id=${incoming.id}: ${err.message}`);
            this.metrics.stepError(name, 'unknown_run');
            return;
          }
          this.metrics.stepError(name, 'transient');
          throw err;
        }
      },
    );
  }

  /** One atomic step, then the messages it produced and what it newly did. */
  private async step(run: string, chain: string, incoming: Incoming, publishedMs: number): Promise<StepDone> {
    await this.chaos.beforeStep();
    // A span per call into this subsystem that runs live in this step (memory_failure inside
    // madvise_inject_error, …), parented as the calls nest; a call that waits ends its span.
    const spans = new Map<string, Span>();
    const tracer = trace.getTracer('mfsim');
    const observer = {
      enter: (rec: CallRecord): void => {
        if (rec.caller !== null) return; // the step's own span stands for the chain root
        const parent = spans.get(rec.id.slice(0, rec.id.lastIndexOf('.')));
        const ctx = parent ? trace.setSpan(context.active(), parent) : context.active();
        spans.set(rec.id, tracer.startSpan(KERNEL_FUNCTION[rec.op] ?? rec.op, { attributes: { 'mfsim.call.id': rec.id, ...callAttributes(rec.args) } }, ctx));
      },
      exit: (rec: CallRecord): void => {
        const span = spans.get(rec.id);
        if (!span) return;
        span.setAttribute(Attr.ERRNO, typeof rec.result === 'string' ? rec.result : '0');
        span.end();
        spans.delete(rec.id);
      },
    };
    try {
      return await this.stepWith(run, chain, incoming, spans, observer, publishedMs);
    } finally {
      for (const span of spans.values()) {
        span.setAttribute('mfsim.waiting', true);
        span.end();
      }
    }
  }

  private async stepWith(
    run: string,
    chain: string,
    incoming: Incoming,
    spans: Map<string, Span>,
    observer: NonNullable<ChainHost['observer']>,
    publishedMs: number,
  ): Promise<StepDone> {
    const metrics = this.metrics.enabled;
    const result = await this.store.step(run, chain, async (view) => {
      const host = subsystemHost(this.subsys, view.state, view.records, (op: ReadName, args: unknown) => view.read(op, args), observer);
      const waiting = incoming.kind === 'reply' ? view.records.get(incoming.id.slice(0, incoming.id.lastIndexOf('.'))) : undefined;
      // A resumed step is named after the hop that waited for this answer.
      if (waiting) trace.getActiveSpan()?.updateName(KERNEL_FUNCTION[waiting.op] ?? waiting.op);
      const before = metrics ? snapshotStep(this.subsys, view.state, view.records) : undefined;
      const r = await handleIncoming(host, incoming);
      const effects = before ? stepEffects(this.subsys, before, view.state, view.records, r.touched) : NO_EFFECTS;
      // mm-process copies a chain's records to PostgreSQL once, when the chain has finished.
      const root = view.records.get(chain);
      const finished = root !== undefined && root.status !== 'open' && r.touched.has(root.id);
      const chainRecords = finished ? [...view.records.values()].filter((x) => x.chain === chain) : [];
      return { touched: r.touched, value: { send: r.send, chainRecords, root, duplicate: r.duplicate, effects, waitingOp: waiting?.op } };
    });
    if (this.subsys === 'mm') await this.journal.copyRecords(run, result.chainRecords);
    const root = result.root;
    if (root && root.caller === 'user' && incoming.kind === 'call') {
      await this.journal.upsert({ id: incidentOf(root.id), run, op: root.op, args: encodeJson(root.args), service: this.subsys, status: 'open', result: null });
      if (!result.duplicate) this.incidentStarted(root, publishedMs);
    }
    for (const out of result.send) {
      if (out.kind === 'reply' && out.to === 'user' && root) {
        await this.journal.upsert({
          id: incidentOf(root.id),
          run,
          op: root.op,
          args: encodeJson(root.args),
          service: this.subsys,
          status: out.panic !== undefined ? 'panic' : out.error !== undefined ? 'error' : 'done',
          result: out.panic ?? out.error ?? encodeJson(out.result ?? null),
        });
        // A redelivered call of a finished incident answers again: not a second finish.
        if (!result.duplicate) this.incidentFinished(root, out.panic !== undefined ? 'panic' : out.error !== undefined ? 'error' : 'done');
      }
      const waiting = out.kind === 'call' ? spans.get(out.id.slice(0, out.id.lastIndexOf('.'))) : undefined;
      if (waiting) await context.with(trace.setSpan(context.active(), waiting), () => this.send(run, out));
      else await this.send(run, out);
    }
    const op = incoming.kind === 'call' ? incoming.op : result.waitingOp;
    return { send: result.send, duplicate: result.duplicate, effects: result.effects, op, fn: op ? KERNEL_FUNCTION[op] ?? op : undefined };
  }

  private incidentStarted(root: CallRecord, publishedMs: number): void {
    this.metrics.incidentStarted(KERNEL_FUNCTION[root.op] ?? root.op);
    if (!this.metrics.enabled || Number.isNaN(publishedMs)) return;
    if (this.incidentStarts.size >= MAX_TRACKED_INCIDENTS) {
      const oldest = this.incidentStarts.keys().next().value;
      if (oldest !== undefined) this.incidentStarts.delete(oldest);
    }
    this.incidentStarts.set(root.id, publishedMs);
  }

  private incidentFinished(root: CallRecord, status: 'done' | 'panic' | 'error'): void {
    const start = this.incidentStarts.get(root.id);
    this.incidentStarts.delete(root.id);
    this.metrics.incidentFinished(KERNEL_FUNCTION[root.op] ?? root.op, status, start === undefined ? undefined : (Date.now() - start) / 1000);
  }

  private async send(run: string, out: Outgoing): Promise<void> {
    const failureId = incidentOf(out.id);
    if (out.kind === 'call') {
      await this.kafka.publisher.publish({
        topic: callTopic(out.to as HopHostName),
        key: `${run}:${deviceKey(out.args)}`,
        data: { run, id: out.id, op: out.op, args: encodeJson(out.args), ctx: { current: out.ctx.current }, chain: out.chain, from: out.from as HopHostName },
        causedBy: { id: null, failureId },
      });
    } else {
      await this.kafka.publisher.publish({
        topic: replyTopic(out.to === 'user' ? 'user' : (out.to as HopHostName)),
        key: `${run}:${out.chain}`,
        data: {
          run,
          id: out.id,
          chain: out.chain,
          result: out.panic !== undefined || out.error !== undefined ? null : encodeJson(out.result ?? null),
          panic: out.panic ?? null,
          error: out.error ?? null,
          from: out.from as HopHostName,
        },
        causedBy: { id: null, failureId },
      });
    }
  }

  /** Sends again the calls of chains that have waited too long for an answer. */
  private async sweep(olderThanMs: number): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      for (const { run, chain } of await this.store.openChains(olderThanMs)) {
        const pending = pendingCall(this.subsys, await this.store.chainRecords(run, chain), chain);
        if (pending) {
          this.logger.log(`hop.resend run=${run} id=${pending.id} op=${pending.op}`);
          this.metrics.resend(KERNEL_FUNCTION[pending.op] ?? pending.op);
          // Outside any span of the incident: send it in the incident's trace all the same.
          const incidentContext = incidentTraceContext(incidentOf(pending.id));
          if (incidentContext) await context.with(incidentContext, () => this.send(run, pending));
          else await this.send(run, pending);
        }
      }
    } catch (err) {
      this.logger.warn(`hop.sweep_failed: ${err instanceof Error ? err.message : String(err)}`);
    } finally {
      this.sweeping = false;
    }
  }

  private serial<T>(run: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.queues.get(run) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.queues.set(run, tail);
    void tail.then(() => {
      if (this.queues.get(run) === tail) this.queues.delete(run);
    });
    return next;
  }
}

/** What a stored step sent and newly did (for the span and the metrics). */
interface StepDone {
  readonly send: Outgoing[];
  readonly duplicate: boolean;
  readonly effects: StepEffects;
  /** The op the step ran: the call's, or for a reply the op of the hop that waited. */
  readonly op: OpName | undefined;
  readonly fn: string | undefined;
}

/** The device a call is about, so one device's calls stay in order (the Kafka key). */
function deviceKey(args: unknown): string {
  const a = (args ?? {}) as Record<string, unknown>;
  for (const k of ['daxDev', 'disk', 'md', 'fs'] as const) if (typeof a[k] === 'string') return a[k] as string;
  if (typeof a.mapping === 'string') return (a.mapping as string).split(':')[0] ?? '';
  const bdev = a.bdev as { disk?: string } | undefined;
  return bdev?.disk ?? '';
}

/** Span attributes of a call's arguments, named as the kernel names them. */
function callAttributes(args: unknown): Record<string, string | number> {
  const a = (args ?? {}) as Record<string, unknown>;
  const out: Record<string, string | number> = {};
  if (typeof a.pfn === 'bigint') out[Attr.PMEM_PFN] = `0x${a.pfn.toString(16)}`;
  if (typeof a.daxDev === 'string') out[Attr.DAX_DEV] = a.daxDev;
  if (typeof a.offset === 'bigint') out[Attr.DAX_OFFSET] = a.offset.toString();
  if (typeof a.len === 'bigint') out[Attr.DAX_LEN] = a.len.toString();
  if (typeof a.mfFlags === 'number') out[Attr.MF_FLAGS] = a.mfFlags;
  if (typeof a.mapping === 'string') out[Attr.MM_MAPPING_ID] = a.mapping;
  if (typeof a.pgoff === 'bigint') out[Attr.MM_PGOFF] = a.pgoff.toString();
  if (typeof a.pgcnt === 'bigint') out[Attr.MM_PGCNT] = a.pgcnt.toString();
  if (typeof a.pid === 'number') out[Attr.MM_CURRENT_PID] = a.pid;
  return out;
}

