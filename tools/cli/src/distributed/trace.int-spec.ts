/**
 * One trace per incident: the five services export their spans (OTLP/HTTP, as register.js sets
 * it up) to a collector inside this test while a reflinked failure and an unbind run through
 * them. Spans are named after the kernel functions, and each hop's span descends from the span
 * of the hop that called it, across services (through Kafka's trace headers).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { parseScenario, runScenarioDistributed } from '@mfsim/scenario';
import { CollectedSpan, OtlpCollector, OtlpSpanKind, REPO_ROOT, startOtlpCollector, testKafkaBrokers, TestStack } from '@mfsim/testing';

import { KafkaCluster } from './kafka-cluster';

/** service → service: kernel function, for every hop span whose nearest hop ancestor is in another service. */
function edges(spans: readonly CollectedSpan[]): Set<string> {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const isHop = (s: CollectedSpan): boolean => s.kind === OtlpSpanKind.INTERNAL && s.scope.name === 'mfsim';
  const out = new Set<string>();
  for (const s of spans.filter(isHop)) {
    let p = s.parentSpanId ? byId.get(s.parentSpanId) : undefined;
    while (p && !isHop(p)) p = p.parentSpanId ? byId.get(p.parentSpanId) : undefined;
    if (p && p.resource['service.name'] !== s.resource['service.name']) {
      out.add(`${String(p.resource['service.name'])}:${p.name} -> ${String(s.resource['service.name'])}:${s.name}`);
    }
  }
  return out;
}

describe('one trace per incident, parented hop by hop across the services', { timeout: 300_000 }, () => {
  let collector: OtlpCollector;
  let stack: TestStack | undefined;
  let cluster: KafkaCluster | undefined;

  before(async () => {
    collector = await startOtlpCollector();
    stack = await TestStack.start({
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json', OTEL_BSP_SCHEDULE_DELAY: '200' },
    });
    cluster = await KafkaCluster.connect({ brokers: testKafkaBrokers(), topicPrefix: stack.topicPrefix, serviceUrls: stack.serviceUrls(), dropOnClose: true });
  });

  after(async () => {
    await cluster?.close();
    await stack?.stop();
    await collector?.close();
  });

  /** The spans of the file's first incident once `complete` holds for them (spans arrive in batches). */
  async function incidentSpans(file: string, complete: (spans: CollectedSpan[]) => boolean): Promise<{ spans: CollectedSpan[]; incident: string }> {
    const parsed = parseScenario(readFileSync(file, 'utf8'), file);
    assert.ok(parsed.ok);
    const run = await runScenarioDistributed(parsed.scenario, cluster as KafkaCluster);
    assert.ok(run.pass);
    const incident = run.injections[0]?.incident.incident as string;
    // Every span of the incident carries its failure id; they must all be one trace.
    const current = (): CollectedSpan[] => {
      const mine = collector.spans.filter((s) => s.attributes['failure.id'] === incident);
      const traces = new Set(mine.map((s) => s.traceId));
      assert.ok(traces.size <= 1, `incident ${incident} is spread over ${traces.size} traces`);
      return mine.length === 0 ? [] : collector.spans.filter((s) => s.traceId === mine[0]?.traceId);
    };
    await collector.waitFor(() => (complete(current()) ? true : undefined), { timeoutMs: 30_000, what: `the spans of incident ${incident}` }).catch(() => undefined);
    return { spans: current(), incident };
  }

  it('a reflinked failure: mm → pmem → dax → xfs → mm, one mf_dax_kill_procs per owner', async () => {
    const wanted = [
      'mm-process:memory_failure_dev_pagemap -> pmem-driver:pmem_pagemap_memory_failure',
      'mm-process:memory_failure -> pmem-driver:get_dev_pagemap',
      'pmem-driver:pmem_pagemap_memory_failure -> dax-core:dax_holder_notify_failure',
      'dax-core:dax_holder_notify_failure -> xfs-fs:xfs_dax_notify_failure',
      'xfs-fs:xfs_dax_notify_failure -> mm-process:mf_dax_kill_procs',
    ];
    const { spans } = await incidentSpans(
      path.join(REPO_ROOT, 'scenarios/examples/03-reflinked-block-two-owners.yaml'),
      (all) => wanted.every((w) => edges(all).has(w)) && all.filter((s) => s.name === 'mf_dax_kill_procs').length >= 2,
    );
    const e = edges(spans);
    for (const edge of wanted) assert.ok(e.has(edge), `missing ${edge}; edges: ${[...e].join(' | ')}`);
    const kills = spans.filter((s) => s.name === 'mf_dax_kill_procs');
    assert.equal(kills.length, 2, 'one mf_dax_kill_procs per reflink owner');
    const notify = spans.find((s) => s.name === 'dax_holder_notify_failure');
    assert.equal(notify?.attributes['dax.dev'], 'pmem0');
    assert.equal(notify?.attributes['dax.offset'], String(0x13250000));
    const mf = spans.find((s) => s.name === 'memory_failure');
    assert.equal(mf?.attributes['pmem.pfn'], '0x123450');
  });

  it('an unbind: pmem → dax (kill_dax) → xfs (pre-remove walk) → mm, and fs_bdev_mark_dead', async () => {
    const wanted = [
      'pmem-driver:nd_pmem_remove -> dax-core:dax_remove_host',
      'pmem-driver:nd_pmem_remove -> dax-core:kill_dax',
      'dax-core:dax_holder_notify_failure -> xfs-fs:xfs_dax_notify_failure',
      'xfs-fs:xfs_dax_notify_failure -> mm-process:mf_dax_kill_procs',
      'xfs-fs:xfs_dax_notify_failure -> mm-process:invalidate_inode_pages2_range',
      'pmem-driver:nd_pmem_remove -> xfs-fs:fs_bdev_mark_dead',
    ];
    const { spans } = await incidentSpans(path.join(REPO_ROOT, 'scenarios/examples/07-unbind-pre-remove.yaml'), (all) => wanted.every((w) => edges(all).has(w)));
    const e = edges(spans);
    for (const edge of wanted) assert.ok(e.has(edge), `missing ${edge}; edges: ${[...e].join(' | ')}`);
  });
});
