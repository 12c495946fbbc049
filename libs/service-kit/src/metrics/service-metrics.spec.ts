import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { Topics } from '@mfsim/contracts';

import { METRIC, prometheusName, ServiceMetrics } from './service-metrics';

/** The value of the one sample `name{…labels…}` of a Prometheus text exposition. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = new Map([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got.get(k) === v)) return Number(m[3]);
  }
  return undefined;
}

describe('ServiceMetrics', () => {
  it('exposes counters with _total, by kernel names and labels', async () => {
    const m = new ServiceMetrics({ service: 'mm-process', group: 'p.mm-process' });
    m.incidentStarted('madvise_inject_error');
    m.incidentFinished('madvise_inject_error', 'done', 0.05);
    m.incidentFinished('madvise_inject_error', 'panic');
    m.effects({ signals: [{ signo: 'SIGBUS', code: 'BUS_MCEERR_AR' }, { signo: 'SIGBUS', code: 'BUS_MCEERR_AO' }, { signo: 'SIGBUS', code: 'BUS_MCEERR_AO' }], shutdowns: ['SHUTDOWN_CORRUPT_ONDISK'], unmaps: [1, 2] });
    m.replaySkipped('mf_dax_kill_procs', 'call');
    m.stepError('memory_failure', 'transient');
    m.resend('pmem_pagemap_memory_failure');
    const text = (await m.scrape()) ?? '';
    assert.equal(sample(text, 'mfsim_incidents_started_total', { service: 'mm-process', kernel_function: 'madvise_inject_error' }), 1);
    assert.equal(sample(text, 'mfsim_incidents_finished_total', { status: 'done' }), 1);
    assert.equal(sample(text, 'mfsim_incidents_finished_total', { status: 'panic' }), 1);
    assert.equal(sample(text, 'mfsim_incidents_finished_total', { status: 'error' }), undefined);
    assert.equal(sample(text, 'mfsim_incident_duration_seconds_count', { status: 'done' }), 1);
    assert.equal(sample(text, 'mfsim_signals_sent_total', { si_code: 'BUS_MCEERR_AR', signo: 'SIGBUS' }), 1);
    assert.equal(sample(text, 'mfsim_signals_sent_total', { si_code: 'BUS_MCEERR_AO' }), 2);
    assert.equal(sample(text, 'mfsim_mm_unmaps_total', {}), 2);
    assert.equal(sample(text, 'mfsim_mm_pages_unmapped_total', {}), 3);
    assert.equal(sample(text, 'mfsim_fs_shutdowns_total', { reason: 'SHUTDOWN_CORRUPT_ONDISK' }), 1);
    assert.equal(sample(text, 'mfsim_idempotent_replays_skipped_total', { kernel_function: 'mf_dax_kill_procs' }), 1);
    assert.equal(sample(text, 'mfsim_hop_step_errors_total', { error: 'transient' }), 1);
    assert.equal(sample(text, 'mfsim_hop_resends_total', { kernel_function: 'pmem_pagemap_memory_failure' }), 1);
    assert.match(text, /^# TYPE mfsim_signals_sent_total counter$/m);
    await m.shutdown();
  });

  it('hop latency is a histogram in seconds with buckets per kernel function', async () => {
    const m = new ServiceMetrics({ service: 'dax-core', group: 'dax-core' });
    m.hopStep('dax_holder_notify_failure', 'dax.daxHolderNotifyFailure', 'call', 0.004, 0.002);
    m.hopStep('dax_holder_notify_failure', 'dax.daxHolderNotifyFailure', 'call', 0.2, 0.003);
    const text = (await m.scrape()) ?? '';
    const fn = { kernel_function: 'dax_holder_notify_failure', op: 'dax.daxHolderNotifyFailure', step: 'call', service: 'dax-core' };
    assert.match(text, /^# TYPE mfsim_hop_latency_seconds histogram$/m);
    assert.equal(sample(text, 'mfsim_hop_latency_seconds_count', fn), 2);
    assert.equal(sample(text, 'mfsim_hop_latency_seconds_bucket', { ...fn, le: '0.005' }), 1);
    assert.equal(sample(text, 'mfsim_hop_latency_seconds_bucket', { ...fn, le: '0.25' }), 2);
    assert.equal(sample(text, 'mfsim_hop_latency_seconds_bucket', { ...fn, le: '+Inf' }), 2);
    assert.ok(Math.abs((sample(text, 'mfsim_hop_latency_seconds_sum', fn) ?? 0) - 0.204) < 1e-9);
    assert.equal(sample(text, 'mfsim_hop_steps_total', fn), 2);
    assert.equal(sample(text, 'mfsim_hop_step_duration_seconds_count', fn), 2);
    await m.shutdown();
  });

  it('messaging: consumed by outcome, dead letters by reason, lag summed over partitions per topic', async () => {
    const m = new ServiceMetrics({ service: 'xfs-fs', group: 'run7.xfs-fs' });
    m.messaging.consumed(Topics.XFS_CALL, 'handled');
    m.messaging.consumed(Topics.XFS_CALL, 'handled');
    m.messaging.consumed(Topics.XFS_CALL, 'dead_lettered');
    m.messaging.deadLettered(Topics.XFS_CALL, 'json');
    m.messaging.lag?.(Topics.XFS_CALL, 0, 5);
    m.messaging.lag?.(Topics.XFS_CALL, 1, 2);
    m.messaging.lag?.(Topics.XFS_CALL, 0, 1);
    m.messaging.lag?.(Topics.XFS_REPLY, 3, -1);
    const text = (await m.scrape()) ?? '';
    assert.equal(sample(text, 'mfsim_messages_consumed_total', { topic: Topics.XFS_CALL, outcome: 'handled' }), 2);
    assert.equal(sample(text, 'mfsim_messages_dead_lettered_total', { topic: Topics.XFS_CALL, reason: 'json' }), 1);
    assert.equal(sample(text, 'mfsim_consumer_lag', { group: 'run7.xfs-fs', topic: Topics.XFS_CALL }), 3);
    assert.equal(sample(text, 'mfsim_consumer_lag', { topic: Topics.XFS_REPLY }), 0);
    assert.match(text, /^# TYPE mfsim_consumer_lag gauge$/m);
    await m.shutdown();
  });

  it('off: instruments do nothing and there is nothing to scrape', async () => {
    const m = new ServiceMetrics({ service: 'mm-process', group: 'mm-process', enabled: false });
    m.incidentStarted('memory_failure');
    m.messaging.consumed(Topics.MM_CALL, 'handled');
    assert.equal(await m.scrape(), null);
    await m.shutdown();
  });

  it('prometheusName is what the serializer emits', async () => {
    const m = new ServiceMetrics({ service: 's', group: 'g' });
    m.incidentStarted('x');
    m.hopStep('f', 'o', 'call', 0.001, 0.001);
    const text = (await m.scrape()) ?? '';
    assert.ok(text.includes(`${prometheusName(METRIC.INCIDENTS_STARTED, true)}{`));
    assert.ok(text.includes(`${prometheusName(METRIC.HOP_LATENCY, false)}_bucket{`));
    assert.equal(prometheusName('mfsim.a.b_total', true), 'mfsim_a_b_total');
    await m.shutdown();
  });
});
