/**
 * A service's OpenTelemetry metrics, named after what the kernel does, and their Prometheus
 * text exposition for `GET /metrics`. Independent of the tracing bootstrap
 * (libs/telemetry/src/register.ts): a MeterProvider of its own, read only when scraped (a
 * PrometheusExporter without its server), so metrics cost an increment per event and nothing
 * between scrapes. `MFSIM_METRICS=off` turns them off (no-op instruments, /metrics 404).
 *
 * The Prometheus serializer turns `.` into `_`, appends `_total` to counters and appends no
 * unit (the unit is only in a `# UNIT` line): durations therefore carry `_seconds` in their name.
 */
import { createNoopMeter, type Attributes, type Counter, type Histogram, type Meter } from '@opentelemetry/api';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import { MeterProvider } from '@opentelemetry/sdk-metrics';

import type { Topic } from '@mfsim/contracts';
import type { DeadLetterKind, MessagingObserver, ProcessOutcome } from '@mfsim/messaging';

import type { StepEffects } from './step-effects';

/** Every metric name a service exports (OpenTelemetry names; Prometheus: `.` → `_`, counters `_total`). */
export const METRIC = {
  INCIDENTS_STARTED: 'mfsim.incidents.started',
  INCIDENTS_FINISHED: 'mfsim.incidents.finished',
  INCIDENT_DURATION: 'mfsim.incident.duration_seconds',
  HOP_LATENCY: 'mfsim.hop.latency_seconds',
  HOP_STEP_DURATION: 'mfsim.hop.step.duration_seconds',
  HOP_STEPS: 'mfsim.hop.steps',
  HOP_STEP_ERRORS: 'mfsim.hop.step.errors',
  HOP_RESENDS: 'mfsim.hop.resends',
  REPLAYS_SKIPPED: 'mfsim.idempotent.replays_skipped',
  SIGNALS_SENT: 'mfsim.signals.sent',
  UNMAPS: 'mfsim.mm.unmaps',
  PAGES_UNMAPPED: 'mfsim.mm.pages_unmapped',
  FS_SHUTDOWNS: 'mfsim.fs.shutdowns',
  MESSAGES_CONSUMED: 'mfsim.messages.consumed',
  MESSAGES_DEAD_LETTERED: 'mfsim.messages.dead_lettered',
  CONSUMER_LAG: 'mfsim.consumer.lag',
} as const;

/** The Prometheus name the exposition uses for a metric of METRIC. */
export function prometheusName(name: string, counter: boolean): string {
  const base = name.replace(/[^a-zA-Z0-9_:]/g, '_').replace(/_+/g, '_');
  return counter && !base.endsWith('_total') ? `${base}_total` : base;
}

/** Latencies from a millisecond to half a minute (a hop waits on Kafka, PostgreSQL, Redis). */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** The step-error kinds a hop host reports. */
export type StepErrorKind = 'unknown_run' | 'transient';

export interface ServiceMetricsOptions {
  service: string;
  /** The consumer group (lag's `group` label). */
  group: string;
  enabled?: boolean;
}

/** The instruments of one service process and its scrape. */
export class ServiceMetrics {
  readonly enabled: boolean;
  readonly service: string;
  private readonly provider: MeterProvider | undefined;
  private readonly reader: PrometheusExporter | undefined;
  private readonly serializer = new PrometheusSerializer('', false, undefined, true);
  private readonly incidentsStarted: Counter;
  private readonly incidentsFinished: Counter;
  private readonly incidentDuration: Histogram;
  private readonly hopLatency: Histogram;
  private readonly stepDuration: Histogram;
  private readonly steps: Counter;
  private readonly stepErrors: Counter;
  private readonly resends: Counter;
  private readonly replaysSkipped: Counter;
  private readonly signals: Counter;
  private readonly unmaps: Counter;
  private readonly pagesUnmapped: Counter;
  private readonly shutdowns: Counter;
  private readonly consumed: Counter;
  private readonly deadLettered: Counter;
  /** topic → partition → lag after the last batch. */
  private readonly lag = new Map<Topic, Map<number, number>>();
  /** Attribute objects reused per label set (one allocation per distinct set, not per event). */
  private readonly attrs = new Map<string, Attributes>();

  constructor(options: ServiceMetricsOptions) {
    this.enabled = options.enabled ?? true;
    this.service = options.service;
    let meter: Meter;
    if (this.enabled) {
      this.reader = new PrometheusExporter({ preventServerStart: true, withoutTargetInfo: true });
      this.provider = new MeterProvider({ readers: [this.reader] });
      meter = this.provider.getMeter('mfsim');
    } else {
      meter = createNoopMeter();
    }
    const seconds = (name: string, description: string): Histogram =>
      meter.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: LATENCY_BUCKETS } });
    this.incidentsStarted = meter.createCounter(METRIC.INCIDENTS_STARTED, { description: 'Injections that started an incident (a user call into this service: madvise_inject_error, hwpoison_inject, kill_me_maybe, …)' });
    this.incidentsFinished = meter.createCounter(METRIC.INCIDENTS_FINISHED, { description: 'Incidents whose result went back to the user, by status (done, panic, error)' });
    this.incidentDuration = seconds(METRIC.INCIDENT_DURATION, 'From the injection message to the reply to the user (incidents started and finished in this process)');
    this.hopLatency = seconds(METRIC.HOP_LATENCY, 'Propagation latency of one hop: from the message being published to the step that handled it being stored and its messages sent, by kernel function');
    this.stepDuration = seconds(METRIC.HOP_STEP_DURATION, 'Time of one step in this service (load, run or replay the model, store, send), by kernel function');
    this.steps = meter.createCounter(METRIC.HOP_STEPS, { description: 'Hop steps run (calls served and replies resumed), by kernel function' });
    this.stepErrors = meter.createCounter(METRIC.HOP_STEP_ERRORS, { description: 'Steps that failed: transient (redelivered) or unknown_run (dropped)' });
    this.resends = meter.createCounter(METRIC.HOP_RESENDS, { description: 'Calls sent again by the sweep because their answer never came (a lost message)' });
    this.replaysSkipped = meter.createCounter(METRIC.REPLAYS_SKIPPED, { description: 'Redelivered messages the idempotent step skipped (a call already recorded, a reply already fed)' });
    this.signals = meter.createCounter(METRIC.SIGNALS_SENT, { description: 'Signals sent to processes, by signal and si_code (BUS_MCEERR_AR, BUS_MCEERR_AO, BUS_ADRERR)' });
    this.unmaps = meter.createCounter(METRIC.UNMAPS, { description: 'unmap_mapping_pages() calls that zapped page-table entries' });
    this.pagesUnmapped = meter.createCounter(METRIC.PAGES_UNMAPPED, { description: 'Page-table entries zapped by unmap_mapping_pages()' });
    this.shutdowns = meter.createCounter(METRIC.FS_SHUTDOWNS, { description: 'Filesystems shut down (xfs_force_shutdown), by reason' });
    this.consumed = meter.createCounter(METRIC.MESSAGES_CONSUMED, { description: 'Kafka messages consumed, by topic and outcome (handled, duplicate, dead_lettered)' });
    this.deadLettered = meter.createCounter(METRIC.MESSAGES_DEAD_LETTERED, { description: 'Messages sent to <topic>.dlq, by topic and reason (empty, json, unknown_version, schema)' });
    const lagGauge = meter.createObservableGauge(METRIC.CONSUMER_LAG, { description: 'Messages the consumer group is behind, per topic (sum over partitions, after the last fetched batch)', unit: '{message}' });
    lagGauge.addCallback((result) => {
      for (const [topic, parts] of this.lag) {
        let sum = 0;
        for (const v of parts.values()) sum += v;
        result.observe(sum, { service: this.service, group: options.group, topic });
      }
    });
  }

  private a(key: string, make: () => Attributes): Attributes {
    let v = this.attrs.get(key);
    if (!v) {
      v = { service: this.service, ...make() };
      this.attrs.set(key, v);
    }
    return v;
  }

  incidentStarted(fn: string): void {
    this.incidentsStarted.add(1, this.a(`is|${fn}`, () => ({ kernel_function: fn })));
  }

  incidentFinished(fn: string, status: 'done' | 'panic' | 'error', durationS?: number): void {
    const attrs = this.a(`if|${fn}|${status}`, () => ({ kernel_function: fn, status }));
    this.incidentsFinished.add(1, attrs);
    if (durationS !== undefined) this.incidentDuration.record(durationS, attrs);
  }

  /** One step that ran (not a skipped duplicate): its latency since publish and its own time. */
  hopStep(fn: string, op: string, step: 'call' | 'reply', latencyS: number, durationS: number): void {
    const attrs = this.a(`hs|${fn}|${op}|${step}`, () => ({ kernel_function: fn, op, step }));
    this.steps.add(1, attrs);
    if (latencyS >= 0) this.hopLatency.record(latencyS, attrs);
    this.stepDuration.record(durationS, attrs);
  }

  stepError(fn: string, kind: StepErrorKind): void {
    this.stepErrors.add(1, this.a(`se|${fn}|${kind}`, () => ({ kernel_function: fn, error: kind })));
  }

  resend(fn: string): void {
    this.resends.add(1, this.a(`rs|${fn}`, () => ({ kernel_function: fn })));
  }

  replaySkipped(fn: string, step: 'call' | 'reply'): void {
    this.replaysSkipped.add(1, this.a(`rp|${fn}|${step}`, () => ({ kernel_function: fn, step })));
  }

  /** What the model newly did in a step (see step-effects.ts). */
  effects(e: StepEffects): void {
    for (const s of e.signals) this.signals.add(1, this.a(`sg|${s.signo}|${s.code}`, () => ({ signo: s.signo, si_code: s.code })));
    for (const n of e.unmaps) {
      const attrs = this.a('um', () => ({ kernel_function: 'unmap_mapping_pages' }));
      this.unmaps.add(1, attrs);
      this.pagesUnmapped.add(n, attrs);
    }
    for (const r of e.shutdowns) this.shutdowns.add(1, this.a(`sd|${r}`, () => ({ reason: r })));
  }

  /** The messaging layer's hooks: consumed, dead-lettered, lag. */
  readonly messaging: MessagingObserver = {
    consumed: (topic: Topic, outcome: ProcessOutcome): void => {
      this.consumed.add(1, this.a(`mc|${topic}|${outcome}`, () => ({ topic, outcome })));
    },
    deadLettered: (topic: Topic, kind: DeadLetterKind): void => {
      this.deadLettered.add(1, this.a(`dl|${topic}|${kind}`, () => ({ topic, reason: kind })));
    },
    lag: (topic: Topic, partition: number, lag: number): void => {
      let parts = this.lag.get(topic);
      if (!parts) this.lag.set(topic, (parts = new Map()));
      parts.set(partition, Number.isFinite(lag) && lag > 0 ? lag : 0);
    },
  };

  /** The Prometheus text exposition of everything so far, or null when metrics are off. */
  async scrape(): Promise<string | null> {
    if (!this.reader) return null;
    const { resourceMetrics } = await this.reader.collect();
    return this.serializer.serialize(resourceMetrics);
  }

  async shutdown(): Promise<void> {
    await this.provider?.shutdown();
  }
}
