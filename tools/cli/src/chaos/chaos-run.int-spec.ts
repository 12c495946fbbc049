/**
 * `mfsim chaos run` against real services (a TestStack: its own database, topics and Redis key
 * prefix on the test servers):
 *   - the short named plan (scenarios/chaos/plans/ci-short.yaml): injections of every kind in
 *     flight together, xfs-fs SIGKILLed mid-flight and restarted; the history is complete, the
 *     fault's effect was seen, and the checker passes;
 *   - interrupted in a fault window (Ctrl-C): the fault is healed and the history still complete;
 *   - the checker can fail: a real run is made to go wrong on purpose — an access's call record is
 *     deleted from mm-process's store and the call delivered again, past its dedup record — and the
 *     checker names it duplicate-signal.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { checkHealth } from '@mfsim/stack';
import { parseHistory } from '@mfsim/scenario';
import { REPO_ROOT, testKafkaBrokers, TestStack, type StackServiceName } from '@mfsim/testing';

import { loadStackConfig } from '../stack/config';
import type { ProcessControl } from './nemesis/process';
import { parsePlan, readPlan } from './plan';
import { runPlan, type RunTarget } from './runner';
import { writeReport } from './report';

/** The process faults acting on a TestStack's service processes. */
function testStackProcesses(stack: TestStack): ProcessControl {
  const nameOf = (target: string) => stack.services.find((s) => s.name === target)?.name as StackServiceName | undefined;
  return {
    targets: () => stack.services.map((s) => s.name),
    find: (target) => {
      const name = nameOf(target);
      return name ? { id: target, role: 'service', pid: stack.service(name).child.pid as number } : undefined;
    },
    answers: async (target, timeoutMs) => {
      const name = nameOf(target);
      return name ? (await checkHealth(stack.service(name).port, timeoutMs)).status === 200 : false;
    },
    restart: async (target) => (await stack.restart(nameOf(target) as StackServiceName)).child.pid as number,
  };
}

describe('mfsim chaos run against real services', { timeout: 600_000 }, () => {
  let stack: TestStack | undefined;
  let target: RunTarget;
  const dirs: string[] = [];

  before(async () => {
    stack = await TestStack.start();
    const scratch = mkdtempSync(path.join(tmpdir(), 'mfsim-chaos-'));
    dirs.push(scratch);
    target = {
      brokers: testKafkaBrokers(),
      topicPrefix: stack.topicPrefix,
      serviceUrls: stack.serviceUrls(),
      config: loadStackConfig({}, { stackDir: scratch }),
      state: () => ({ startedAt: '', services: {} }),
      processes: testStackProcesses(stack),
    };
  });

  after(async () => {
    await stack?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the short plan: xfs-fs killed mid-flight, every incident finishes, the checker passes', async (t) => {
    const plan = readPlan(path.join(REPO_ROOT, 'scenarios/chaos/plans/ci-short.yaml'));
    const outDir = mkdtempSync(path.join(tmpdir(), 'mfsim-chaos-run-'));
    dirs.push(outDir);
    const lines: string[] = [];
    const result = await runPlan(plan, target, { outDir, say: (l) => lines.push(l), signal: new AbortController().signal });
    t.diagnostic(`run ${(result.wallMs / 1000).toFixed(1)} s; ${result.check.stats.ok} ok; recovery ${result.check.recovery.map((r) => r.ms).join(', ')} ms`);
    assert.deepEqual(result.check.anomalies, [], `${lines.join('\n')}\n${(stack as TestStack).logs()}`);
    assert.ok(result.check.ok);
    const parsed = parseHistory(readFileSync(result.historyFile, 'utf8'));
    assert.ok(parsed.ok);
    const events = parsed.history.events;
    const faultLines = events.filter((e) => e.type === 'fault').map((e) => (e.type === 'fault' ? e.phase : ''));
    assert.deepEqual(faultLines, ['start', 'effect', 'end']);
    const effect = events.find((e) => e.type === 'fault' && e.phase === 'effect');
    assert.match(effect?.type === 'fault' ? (effect.seen ?? '') : '', /xfs-fs pid \d+ gone/);
    // Some operations were in flight while xfs-fs was dead, and they still finished ok.
    const [start, end] = result.faults[0] ? [result.faults[0].start, result.faults[0].end as number] : [0, 0];
    const during = result.ops.filter((o) => o.invoke <= end && (o.done ?? Infinity) >= start);
    assert.ok(during.length > 0, 'no operation overlapped the kill');
    assert.ok(result.ops.every((o) => o.phase === 'ok'), 'every operation was acknowledged');
    assert.equal(result.ops.length, 14);
    assert.ok(events.some((e) => e.type === 'lag'), 'lag was sampled');
    assert.ok(parsed.history.final.records && parsed.history.final.records.length === 14, 'a record per incident');
    assert.notEqual(result.check.recovery[0]?.ms, null, 'the fault has a recovery time');
    // The report is written beside the history.
    const rep = writeReport({ plan: plan.name, planFile: plan.file, seed: plan.seed, command: 'test', historyFile: result.historyFile, check: result.check, ops: result.ops, lag: result.lag, faults: result.faults, wallMs: result.wallMs, setupMs: result.setupMs, interrupted: false });
    assert.match(readFileSync(rep.svg, 'utf8'), /^<svg[^>]*>[\s\S]*kill xfs-fs[\s\S]*<\/svg>\n$/);
    assert.match(readFileSync(rep.md, 'utf8'), /\| kill xfs-fs \| \d+ \| \d+ \| \d+ \| xfs-fs pid/);
  });

  it('interrupted (Ctrl-C) in a fault window: the fault is healed, no new injection, the history is complete', async () => {
    const s = stack as TestStack;
    const plan = readPlan(path.join(REPO_ROOT, 'scenarios/chaos/plans/ci-short.yaml'));
    const outDir = mkdtempSync(path.join(tmpdir(), 'mfsim-chaos-run-'));
    dirs.push(outDir);
    const abort = new AbortController();
    const killedPid = s.service('xfs-fs').child.pid;
    const lines: string[] = [];
    const result = await runPlan(plan, target, {
      outDir,
      say: (l) => {
        lines.push(l);
        // Interrupt as soon as the kill has been seen to take effect.
        if (/kill xfs-fs took effect/.test(l)) abort.abort();
      },
      signal: abort.signal,
    });
    assert.equal(result.interrupted, true);
    // Healed: xfs-fs runs again (a new process) and answers.
    assert.notEqual(s.service('xfs-fs').child.pid, killedPid);
    assert.equal((await checkHealth(s.service('xfs-fs').port, 3000)).status, 200, lines.join('\n'));
    const parsed = parseHistory(readFileSync(result.historyFile, 'utf8'));
    assert.ok(parsed.ok, 'the history has its final line');
    const phases = parsed.history.events.filter((e) => e.type === 'fault').map((e) => (e.type === 'fault' ? e.phase : ''));
    assert.deepEqual(phases, ['start', 'effect', 'end']);
    assert.ok(result.ops.length < 14, `${result.ops.length} operations sent: the interrupt stopped the workload`);
    assert.ok(result.ops.every((o) => o.phase !== null), 'every operation sent has completed');
  });

  it('the checker can fail: a delivery replayed past its dedup record is a duplicate-signal', async () => {
    const s = stack as TestStack;
    const plan = parsePlan(
      {
        name: 'replay-past-dedup',
        seed: 3,
        topology: { generate: { devices: ['pmem'], files: 2, pages: 2 } },
        workload: { injections: 1, kinds: ['mce'], accesses: 1 },
        limits: { duration: '60s', callTimeout: '30s', drain: '10s' },
      },
      path.join(REPO_ROOT, 'inline-plan.yaml'),
    );
    const outDir = mkdtempSync(path.join(tmpdir(), 'mfsim-chaos-run-'));
    dirs.push(outDir);
    let replayed = '';
    const result = await runPlan(plan, target, {
      outDir,
      say: () => undefined,
      signal: new AbortController().signal,
      afterOk: async (op) => {
        if (op.injection !== 'i2') return; // i2: the later access of the page the mce poisoned (a machine check again)
        // mm-process's dedup record of that call is its call record: delete it, deliver again.
        const removed = await s.redis.redis.del(`${s.redisPrefix}hop:${op.run}:c:${op.incident}`);
        assert.equal(removed, 1, 'the call record was there');
        await op.resend();
        replayed = op.incident;
      },
    });
    assert.notEqual(replayed, '', 'the access was replayed');
    assert.equal(result.check.ok, false, readFileSync(result.historyFile, 'utf8'));
    const names = result.check.anomalies.map((a) => a.name);
    assert.ok(names.includes('duplicate-signal'), `anomalies: ${JSON.stringify(result.check.anomalies)}`);
    assert.match(result.check.anomalies.find((a) => a.name === 'duplicate-signal')?.detail ?? '', /SIGBUS BUS_MCEERR_AR to pid \d+ at 0x[0-9a-f]+ sent 3 times, the model sends it 2 times/);
  });
});
