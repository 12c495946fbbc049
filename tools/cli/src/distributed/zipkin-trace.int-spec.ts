/**
 * Each incident's trace is in Zipkin, under the incident's id: a real Zipkin server (the jar
 * deploy/zipkin/fetch.sh fetches) on a free port, the five services exporting to it with
 * OTEL_TRACES_EXPORTER=zipkin, a reflinked failure and an unbind run through them in distributed
 * mode; then Zipkin's HTTP API is asked for the trace whose id is the incident's uuid without
 * dashes, which must hold spans from every service on the path, named after the kernel functions.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { parseScenario, runScenarioDistributed } from '@mfsim/scenario';
import { ensureZipkinJar, findFreePorts, startZipkinServer, waitFor, type ZipkinServerHandle } from '@mfsim/stack';
import { REPO_ROOT, testKafkaBrokers, TestStack } from '@mfsim/testing';

import { KafkaCluster } from './kafka-cluster';
import { traceUrl } from './trace-link';

/** A span as Zipkin's v2 API returns it. */
interface ZipkinSpan {
  traceId: string;
  id: string;
  parentId?: string;
  name?: string;
  kind?: string;
  localEndpoint?: { serviceName?: string };
  tags?: Record<string, string>;
}

describe('each incident is one trace in Zipkin, its id the incident uuid', { timeout: 360_000 }, () => {
  let dir: string;
  let zipkin: ZipkinServerHandle | undefined;
  let stack: TestStack | undefined;
  let cluster: KafkaCluster | undefined;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mfsim-zipkin-test-'));
    ensureZipkinJar();
    const [port] = await findFreePorts(1);
    zipkin = await startZipkinServer({ port: port as number, logFile: path.join(dir, 'zipkin.log') });
    stack = await TestStack.start({
      env: { OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: zipkin.spansEndpoint, OTEL_BSP_SCHEDULE_DELAY: '200' },
    });
    cluster = await KafkaCluster.connect({ brokers: testKafkaBrokers(), topicPrefix: stack.topicPrefix, serviceUrls: stack.serviceUrls(), dropOnClose: true });
  });

  after(async () => {
    await cluster?.close();
    await stack?.stop();
    await zipkin?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function getJson<T>(url: string): Promise<{ status: number; body: T | undefined }> {
    const r = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    const text = await r.text();
    return { status: r.status, body: r.ok && text ? (JSON.parse(text) as T) : undefined };
  }

  /** Runs the file's scenario; its first injection's incident id and the trace id the outcome reports. */
  async function runFile(file: string): Promise<{ incident: string; traceId: string }> {
    const full = path.join(REPO_ROOT, file);
    const parsed = parseScenario(readFileSync(full, 'utf8'), full);
    assert.ok(parsed.ok);
    const run = await runScenarioDistributed(parsed.scenario, cluster as KafkaCluster);
    assert.ok(run.pass, JSON.stringify(run.mismatches));
    const first = run.injections[0]?.incident;
    assert.ok(first && first.status === 'complete');
    return { incident: first.incident, traceId: first.traceId };
  }

  /** GET /api/v2/trace/{traceId} until `complete` holds for its spans (they arrive in batches). */
  async function zipkinTrace(traceId: string, complete: (spans: ZipkinSpan[]) => boolean): Promise<ZipkinSpan[]> {
    let last: ZipkinSpan[] = [];
    await waitFor(
      `the spans of trace ${traceId} in Zipkin`,
      async () => {
        const r = await getJson<ZipkinSpan[]>(`${zipkin!.url}/api/v2/trace/${traceId}`);
        last = r.body ?? [];
        return complete(last) ? true : undefined;
      },
      45_000,
      500,
    ).catch(() => undefined);
    return last;
  }

  const services = (spans: ZipkinSpan[]): Set<string> => new Set(spans.map((s) => s.localEndpoint?.serviceName ?? '?'));
  const names = (spans: ZipkinSpan[], service?: string): string[] =>
    spans.filter((s) => service === undefined || s.localEndpoint?.serviceName === service).map((s) => s.name ?? '');

  /** The parents named by spans of the trace that are not in it (spans still in a service's export batch, or the CLI's root parent). */
  function orphanParents(spans: ZipkinSpan[]): string[] {
    const ids = new Set(spans.map((s) => s.id));
    return [...new Set(spans.filter((s) => s.parentId !== undefined && !ids.has(s.parentId)).map((s) => s.parentId as string))];
  }

  /** Each `service:span` must be there. */
  function missing(spans: ZipkinSpan[], wanted: readonly string[]): string[] {
    return wanted.filter((w) => {
      const [service, name] = w.split(':') as [string, string];
      return !names(spans, service).includes(name);
    });
  }

  /** Every span Zipkin holds with the incident's failure.id tag is in that one trace. */
  async function tracesTaggedWith(incident: string): Promise<string[]> {
    const q = new URLSearchParams({ annotationQuery: `failure.id=${incident}`, lookback: String(3_600_000), limit: '10' });
    const r = await getJson<ZipkinSpan[][]>(`${zipkin!.url}/api/v2/traces?${q.toString()}`);
    assert.equal(r.status, 200);
    return [...new Set((r.body ?? []).map((t) => t[0]?.traceId ?? '?'))];
  }

  it('a reflinked failure: one trace with spans of mm-process, pmem-driver, dax-core and xfs-fs, one mf_dax_kill_procs per owner', async () => {
    const { incident, traceId } = await runFile('scenarios/examples/03-reflinked-block-two-owners.yaml');
    assert.equal(traceId, incident.replace(/-/g, ''), 'the outcome reports the trace id = the incident uuid without dashes');
    const wanted = [
      'mm-process:madvise_inject_error',
      'mm-process:memory_failure',
      'mm-process:memory_failure_dev_pagemap',
      'pmem-driver:pmem_pagemap_memory_failure',
      'dax-core:dax_holder_notify_failure',
      'xfs-fs:xfs_dax_notify_failure',
      'mm-process:mf_dax_kill_procs',
    ];
    // Complete: every wanted span, both kill_procs, and every parent exported (the services export
    // in batches, so a child may arrive before its parent) but for the CLI's root parent.
    const rootParent = traceId.slice(16);
    const spans = await zipkinTrace(
      traceId,
      (s) => missing(s, wanted).length === 0 && names(s).filter((n) => n === 'mf_dax_kill_procs').length >= 2 && orphanParents(s).every((p) => p === rootParent),
    );
    assert.ok(spans.length > 0, `Zipkin has no trace ${traceId}`);
    assert.ok(spans.every((s) => s.traceId === traceId));
    for (const service of ['mm-process', 'pmem-driver', 'dax-core', 'xfs-fs']) assert.ok(services(spans).has(service), `no span of ${service}; services: ${[...services(spans)].join(', ')}`);
    assert.deepEqual(missing(spans, wanted), [], `span names: ${[...new Set(names(spans))].join(', ')}`);
    assert.equal(names(spans).filter((n) => n === 'mf_dax_kill_procs').length, 2, 'one mf_dax_kill_procs per reflink owner');
    const notify = spans.find((s) => s.name === 'dax_holder_notify_failure');
    assert.equal(notify?.tags?.['dax.dev'], 'pmem0');
    // The kernel-function spans hang together: every parent they name is in the trace, but for the
    // root call's parent, the CLI's (which no tracer exported).
    assert.deepEqual(orphanParents(spans), [rootParent], 'only the CLI root parent is outside the trace');
    // And no span of the incident went to another trace.
    assert.deepEqual(await tracesTaggedWith(incident), [traceId]);
    // The link the CLI prints opens that trace in Zipkin's UI.
    const link = traceUrl(zipkin!.traceUrlTemplate, incident) as string;
    assert.equal(link, `${zipkin!.url}/zipkin/traces/${traceId}`);
    assert.equal((await fetch(link, { signal: AbortSignal.timeout(5_000) })).status, 200);
  });

  it('an unbind: pmem-driver → dax-core (kill_dax) → xfs-fs (pre-remove walk) → mm-process, in one trace', async () => {
    const { incident, traceId } = await runFile('scenarios/examples/07-unbind-pre-remove.yaml');
    assert.equal(traceId, incident.replace(/-/g, ''));
    const wanted = [
      'pmem-driver:nd_pmem_remove',
      'dax-core:kill_dax',
      'dax-core:dax_holder_notify_failure',
      'xfs-fs:xfs_dax_notify_failure',
      'xfs-fs:fs_bdev_mark_dead',
      'mm-process:mf_dax_kill_procs',
    ];
    const spans = await zipkinTrace(traceId, (s) => missing(s, wanted).length === 0);
    assert.ok(spans.length > 0, `Zipkin has no trace ${traceId}`);
    for (const service of ['pmem-driver', 'dax-core', 'xfs-fs', 'mm-process']) assert.ok(services(spans).has(service), `no span of ${service}`);
    assert.deepEqual(missing(spans, wanted), [], `span names: ${[...new Set(names(spans))].join(', ')}`);
    assert.deepEqual(await tracesTaggedWith(incident), [traceId]);
  });
});
