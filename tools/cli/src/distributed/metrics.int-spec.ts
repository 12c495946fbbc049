/**
 * The services' metrics, scraped from their real `GET /metrics` after real failures went
 * through them (Kafka, PostgreSQL, Redis): the reflinked example (one mf_dax_kill_procs per
 * owner, one BUS_MCEERR_AR, one unmap), a redelivered call (an idempotent replay skipped), a
 * call for a run nobody knows (a step error), a message that is not JSON (dead-lettered), and
 * the metadata example (one shutdown, one BUS_ADRERR). The tests run in this order. Then every metric the committed
 * Grafana dashboards query must be one of those the services exported.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { topicName, Topics } from '@mfsim/contracts';
import { encodeJson } from '@mfsim/kernel-model';
import { EnvelopePublisher } from '@mfsim/messaging';
import { parseScenario, runScenarioDistributed } from '@mfsim/scenario';
import { REPO_ROOT, testKafka, testKafkaBrokers, TestStack, type StackServiceName } from '@mfsim/testing';
import type { KafkaMessage } from 'kafkajs';

import { dashboardFiles, dashboardMetricNames } from '../metrics/dashboards';
import { parseExposition, sampleValue, type Exposition } from '../metrics/exposition';
import { KafkaCluster } from './kafka-cluster';

describe('GET /metrics on every service after real failures', { timeout: 300_000 }, () => {
  let stack: TestStack | undefined;
  let cluster: KafkaCluster | undefined;
  /** The reflinked run (still set up in the services until the next scenario's set-up). */
  let reflinkedRun = '';

  before(async () => {
    stack = await TestStack.start();
    cluster = await KafkaCluster.connect({ brokers: testKafkaBrokers(), topicPrefix: stack.topicPrefix, serviceUrls: stack.serviceUrls(), dropOnClose: true });
  });

  after(async () => {
    await cluster?.close();
    await stack?.stop();
  });

  async function scrape(name: StackServiceName): Promise<Exposition> {
    const r = await fetch(`http://127.0.0.1:${(stack as TestStack).service(name).port}/metrics`);
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type') ?? '', /^text\/plain;.*version=0\.0\.4/);
    return parseExposition(await r.text());
  }

  /** Scrapes until `ok` holds (steps finish after the reply that ends a run is sent). */
  async function scrapeUntil(name: StackServiceName, ok: (e: Exposition) => boolean, what: string): Promise<Exposition> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const e = await scrape(name);
      if (ok(e)) return e;
      if (Date.now() > deadline) assert.fail(`${name}: ${what} never showed in /metrics:\n${e.text}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async function run(file: string): Promise<void> {
    const full = path.join(REPO_ROOT, file);
    const parsed = parseScenario(readFileSync(full, 'utf8'), full);
    assert.ok(parsed.ok);
    const result = await runScenarioDistributed(parsed.scenario, cluster as KafkaCluster);
    assert.ok(result.pass, `${file} did not pass distributed`);
  }

  it('the reflinked example: an incident, latency per hop in each service, one BUS_MCEERR_AR, one unmap', async () => {
    await run('scenarios/examples/03-reflinked-block-two-owners.yaml');
    // The set-up's page faults are user calls too (do_user_addr_fault incidents): look at the injection.
    const injection = { kernel_function: 'madvise_inject_error' };
    const mm = await scrapeUntil('mm-process', (e) => sampleValue(e, 'mfsim_incidents_finished_total', { ...injection, status: 'done' }) === 1, 'the finished incident');
    assert.equal(sampleValue(mm, 'mfsim_incidents_started_total', { service: 'mm-process', kernel_function: 'madvise_inject_error' }), 1);
    assert.equal(sampleValue(mm, 'mfsim_incidents_finished_total', { kernel_function: 'madvise_inject_error', status: 'done' }), 1);
    assert.equal(sampleValue(mm, 'mfsim_incident_duration_seconds_count', { ...injection, status: 'done' }), 1);
    // The scenario's expectation: pid 201 (current) gets BUS_MCEERR_AR; pid 200 (the other
    // owner, late kill) nothing; /poisonfile's page is unmapped, /testfile's was never collected.
    assert.equal(sampleValue(mm, 'mfsim_signals_sent_total', { signo: 'SIGBUS', si_code: 'BUS_MCEERR_AR' }), 1);
    assert.equal(sampleValue(mm, 'mfsim_signals_sent_total', { si_code: 'BUS_MCEERR_AO' }), undefined);
    assert.equal(sampleValue(mm, 'mfsim_mm_unmaps_total', { kernel_function: 'unmap_mapping_pages' }), 1);
    assert.equal(sampleValue(mm, 'mfsim_mm_pages_unmapped_total', {}), 1);
    // One mf_dax_kill_procs per reflink owner, each a call from xfs-fs.
    assert.equal(sampleValue(mm, 'mfsim_hop_latency_seconds_count', { kernel_function: 'mf_dax_kill_procs', step: 'call' }), 2);
    assert.ok((sampleValue(mm, 'mfsim_hop_latency_seconds_sum', { kernel_function: 'mf_dax_kill_procs', step: 'call' }) ?? 0) > 0);
    assert.equal(sampleValue(mm, 'mfsim_hop_latency_seconds_count', { kernel_function: 'madvise_inject_error', step: 'call' }), 1);
    for (const [service, fn] of [
      ['pmem-driver', 'pmem_pagemap_memory_failure'],
      ['dax-core', 'dax_holder_notify_failure'],
      ['xfs-fs', 'xfs_dax_notify_failure'],
    ] as const) {
      const e = await scrape(service);
      assert.equal(sampleValue(e, 'mfsim_hop_latency_seconds_count', { service, kernel_function: fn, step: 'call' }), 1, `${service} ${fn}`);
      assert.equal(sampleValue(e, 'mfsim_hop_latency_seconds_bucket', { service, kernel_function: fn, step: 'call', le: '+Inf' }), 1);
      assert.ok((sampleValue(e, 'mfsim_messages_consumed_total', { outcome: 'handled' }) ?? 0) >= 1, `${service} consumed nothing`);
      assert.ok(e.names.has('mfsim_consumer_lag'), `${service} reports no consumer lag`);
    }
    const xfs = await scrape('xfs-fs');
    assert.equal(sampleValue(xfs, 'mfsim_fs_shutdowns_total', {}), undefined, 'a reflinked data page shuts nothing down');
  });

  // Right after the reflinked run, while its run is still set up in the services.
  it('a redelivered call is skipped (and counts no second hop), a call for an unknown run is a step error, garbage is dead-lettered', async () => {
    const s = stack as TestStack;
    const callTopic = topicName(s.topicPrefix, Topics.XFS_CALL);
    // The reflinked run's xfs_dax_notify_failure call (the set-up's mount came first).
    const first = await firstMessage(callTopic, 'xfs.xfsDaxNotifyFailure');
    const before = await scrape('xfs-fs');
    const kafka = testKafka(`${s.id}-replay`);
    const producer = kafka.producer();
    await producer.connect();
    try {
      // The same message again, as Kafka redelivers after a lost commit.
      await producer.send({ topic: callTopic, messages: [{ key: first.key, value: first.value, headers: first.headers }] });
      const envelope = JSON.parse(String(first.value)) as { id: string; data: { run: string } };
      reflinkedRun = envelope.data.run;
      const unknown = { ...envelope, id: randomUUID(), data: { ...envelope.data, run: `no-such-run-${s.id}` } };
      await producer.send({ topic: callTopic, messages: [{ key: 'x', value: JSON.stringify(unknown) }] });
      await producer.send({ topic: callTopic, messages: [{ key: 'x', value: 'this is not json' }] });
    } finally {
      await producer.disconnect();
    }
    const xfs = await scrapeUntil(
      'xfs-fs',
      (e) =>
        sampleValue(e, 'mfsim_idempotent_replays_skipped_total', { kernel_function: 'xfs_dax_notify_failure', step: 'call' }) === 1 &&
        sampleValue(e, 'mfsim_hop_step_errors_total', { error: 'unknown_run' }) === 1 &&
        sampleValue(e, 'mfsim_messages_dead_lettered_total', { topic: Topics.XFS_CALL, reason: 'json' }) === 1,
      'the replay, the step error and the dead letter',
    );
    // The skipped replay ran no hop: the hop count is what it was.
    const hops = { kernel_function: 'xfs_dax_notify_failure', step: 'call' };
    assert.equal(sampleValue(xfs, 'mfsim_hop_steps_total', hops), sampleValue(before, 'mfsim_hop_steps_total', hops));
    assert.equal(sampleValue(xfs, 'mfsim_messages_consumed_total', { topic: Topics.XFS_CALL, outcome: 'dead_lettered' }), 1);
    // The answer xfs-fs sent again reaches dax-core, whose chain already has it: skipped too.
    await scrapeUntil('dax-core', (e) => (sampleValue(e, 'mfsim_idempotent_replays_skipped_total', { step: 'reply' }) ?? 0) >= 1, 'the replayed reply');
    const mm = await scrape('mm-process');
    assert.equal(sampleValue(mm, 'mfsim_signals_sent_total', { si_code: 'BUS_MCEERR_AR' }), 1, 'a replay sends no signal');
  });

  it('a call left unanswered (xfs-fs stopped) is resent by the sweep and the second copy is skipped', async () => {
    const s = stack as TestStack;
    const run = reflinkedRun;
    assert.ok(run, 'the redelivery test found the run');
    const producer = testKafka(`${s.id}-resend`).producer();
    await producer.connect();
    s.pause('xfs-fs', true);
    try {
      // dax_holder_notify_failure on a free block of the reflinked run: dax-core calls xfs-fs,
      // which is stopped; after 3 s the sweep sends the call again.
      const id = randomUUID();
      await new EnvelopePublisher({ producer, topicPrefix: s.topicPrefix, source: 'metrics-test' }).publish({
        topic: Topics.DAX_CALL,
        key: `${run}:pmem0`,
        data: {
          run,
          id,
          op: 'dax.daxHolderNotifyFailure',
          args: encodeJson({ daxDev: 'pmem0', offset: 1000n * 4096n, len: 4096n, mfFlags: 0 }),
          ctx: { current: null },
          chain: id,
          from: 'user',
        },
        causedBy: { id: null, failureId: id },
      });
      await scrapeUntil('dax-core', (e) => (sampleValue(e, 'mfsim_hop_resends_total', { kernel_function: 'xfs_dax_notify_failure' }) ?? 0) >= 1, 'the resend');
    } finally {
      s.pause('xfs-fs', false);
      await producer.disconnect();
    }
    // xfs-fs wakes up to the call and its resent copy: the copy is skipped.
    await scrapeUntil('xfs-fs', (e) => (sampleValue(e, 'mfsim_idempotent_replays_skipped_total', { kernel_function: 'xfs_dax_notify_failure', step: 'call' }) ?? 0) >= 2, 'the skipped copy');
  });

  it('the metadata example: one SHUTDOWN_CORRUPT_ONDISK in xfs-fs, the later load gets BUS_ADRERR, an EUCLEAN incident is done', async () => {
    await run('scenarios/examples/05-metadata-poison-shuts-down.yaml');
    const xfs = await scrapeUntil('xfs-fs', (e) => sampleValue(e, 'mfsim_fs_shutdowns_total', {}) !== undefined, 'the shutdown');
    assert.equal(sampleValue(xfs, 'mfsim_fs_shutdowns_total', { service: 'xfs-fs', reason: 'SHUTDOWN_CORRUPT_ONDISK' }), 1);
    const mm = await scrapeUntil('mm-process', (e) => sampleValue(e, 'mfsim_incidents_finished_total', { kernel_function: 'user_access' }) === 1, 'the load');
    assert.equal(sampleValue(mm, 'mfsim_signals_sent_total', { si_code: 'BUS_ADRERR' }), 1);
    assert.equal(sampleValue(mm, 'mfsim_signals_sent_total', { si_code: 'BUS_MCEERR_AR' }), 1, 'no new AR');
    assert.equal(sampleValue(mm, 'mfsim_incidents_finished_total', { kernel_function: 'hwpoison_inject', status: 'done' }), 1);
  });

  it('every metric the Grafana dashboards query is one the services export', async () => {
    const exported = new Set<string>();
    for (const name of ['pmem-driver', 'dax-core', 'dm-mapper', 'xfs-fs', 'mm-process'] as const) for (const n of (await scrape(name)).names) exported.add(n);
    const files = dashboardFiles(path.join(REPO_ROOT, 'deploy/grafana/dashboards'));
    assert.ok(files.length >= 3, `dashboards: ${files.join(', ')}`);
    for (const file of files) {
      const used = dashboardMetricNames(JSON.parse(readFileSync(file, 'utf8')));
      assert.ok(used.size > 0, `${file} queries no metric`);
      const missing = [...used].filter((n) => !exported.has(n));
      assert.deepEqual(missing, [], `${path.basename(file)} queries metrics no service exports; exported: ${[...exported].sort().join(' ')}`);
    }
  });

  /** The first message of a topic calling `op` (read by a group of this test's own, removed with the stack). */
  async function firstMessage(topic: string, op: string): Promise<KafkaMessage> {
    const s = stack as TestStack;
    const consumer = testKafka(`${s.id}-peek`).consumer({ groupId: `${s.topicPrefix}metrics-peek-${randomUUID()}` });
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      return await new Promise<KafkaMessage>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no message on ${topic}`)), 30_000);
        void consumer.run({
          eachMessage: async ({ message }) => {
            let called: string | undefined;
            try {
              called = (JSON.parse(String(message.value)) as { data?: { op?: string } }).data?.op;
            } catch {
              return; // the test's own garbage
            }
            if (called !== op) return;
            clearTimeout(timer);
            resolve(message);
          },
        });
      });
    } finally {
      await consumer.disconnect();
    }
  }
});
