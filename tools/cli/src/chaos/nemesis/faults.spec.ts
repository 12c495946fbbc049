import assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';

import { APP_FAULTS, malformedValue } from './app';
import { PlanError, type FaultKind } from './fault';
import { NETWORK_FAULTS, probe } from './network';
import type { StackState } from '../../stack/state';

const KINDS = new Map<string, FaultKind>([...NETWORK_FAULTS, ...APP_FAULTS].map((k) => [k.kind, k]));
const parse = (raw: Record<string, unknown>) => (KINDS.get(String(raw['kind'])) as FaultKind).parse(raw, 'faults[2]');

describe('network and application fault kinds: plan entries', () => {
  it('exports every kind once, each with a summary', () => {
    assert.deepEqual(NETWORK_FAULTS.map((k) => k.kind), ['latency', 'blackhole', 'reset']);
    assert.deepEqual(APP_FAULTS.map((k) => k.kind), ['slow-handler', 'consumer-delay', 'duplicate', 'malformed']);
    for (const k of KINDS.values()) assert.ok(k.summary.length > 20);
  });

  it('reads the fields with their defaults (durations as ms or "5s")', () => {
    assert.deepEqual(parse({ kind: 'latency', target: 'xfs-fs->postgres', at: '2s', for: 5000, latencyMs: 200, jitterMs: 50 }), {
      kind: 'latency', target: 'xfs-fs->postgres', atMs: 2000, forMs: 5000, latencyMs: 200, jitterMs: 50, direction: 'both',
    });
    assert.deepEqual(parse({ kind: 'blackhole', target: 'mm-process->redis', at: 0, for: '1m', direction: 'upstream' }), {
      kind: 'blackhole', target: 'mm-process->redis', atMs: 0, forMs: 60000, direction: 'upstream',
    });
    assert.deepEqual(parse({ kind: 'reset', target: 'xfs-fs-2->kafka', at: '500ms', for: '1.5s' }), { kind: 'reset', target: 'xfs-fs-2->kafka', atMs: 500, forMs: 1500 });
    assert.deepEqual(parse({ kind: 'slow-handler', target: 'xfs-fs', at: 0, for: '10s', delayMs: '250ms' }), { kind: 'slow-handler', target: 'xfs-fs', atMs: 0, forMs: 10000, delayMs: 250 });
    assert.deepEqual(parse({ kind: 'consumer-delay', target: 'mm-process-2', at: 0, for: '10s', delayMs: 100 }).target, 'mm-process-2');
    assert.deepEqual(parse({ kind: 'duplicate', target: 'all', at: 0, for: '10s' }), { kind: 'duplicate', target: 'all', atMs: 0, forMs: 10000, copies: 1 });
    assert.deepEqual(parse({ kind: 'malformed', target: 'dm-mapper', at: 0, for: '10s' }), { kind: 'malformed', target: 'dm-mapper', atMs: 0, forMs: 10000, everyMs: 200 });
  });

  it('names the bad field', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ kind: 'latency', target: 'xfs-fs', at: 0, for: '1s', latencyMs: 10 }, /^faults\[2\]\.target: "xfs-fs" is not an edge/],
      [{ kind: 'latency', target: 'xfs-fs->mysql', at: 0, for: '1s', latencyMs: 10 }, /^faults\[2\]\.target: .*not an edge/],
      [{ kind: 'latency', target: 'xfs-fs->postgres', at: 0, for: '1s' }, /^faults\[2\]\.latencyMs: is required/],
      [{ kind: 'latency', target: 'xfs-fs->postgres', at: 0, for: '1s', latencyMs: 10, jitterMs: 20 }, /^faults\[2\]\.jitterMs: must not exceed latencyMs/],
      [{ kind: 'latency', target: 'xfs-fs->postgres', at: 0, for: '1s', latency: 10 }, /^faults\[2\]\.latency: unknown field for kind latency/],
      [{ kind: 'blackhole', target: 'xfs-fs->postgres', at: 0, for: '1s', direction: 'sideways' }, /^faults\[2\]\.direction: expected both, upstream or downstream/],
      [{ kind: 'reset', target: 'xfs-fs->redis', at: 'soon', for: '1s' }, /^faults\[2\]\.at: expected a duration/],
      [{ kind: 'reset', target: 'xfs-fs->redis', at: 0, for: 0 }, /^faults\[2\]\.for: expected a duration > 0/],
      [{ kind: 'slow-handler', target: 'ext4-fs', at: 0, for: '1s', delayMs: 5 }, /^faults\[2\]\.target: "ext4-fs" is not a service/],
      [{ kind: 'slow-handler', target: 'all', at: 0, for: '1s', delayMs: 5 }, /^faults\[2\]\.target: "all" is not a service/],
      [{ kind: 'consumer-delay', target: 'xfs-fs', at: 0, for: '1s' }, /^faults\[2\]\.delayMs: is required/],
      [{ kind: 'duplicate', target: 'all', at: 0, for: '1s', copies: 0 }, /^faults\[2\]\.copies: expected an integer from 1 to 10/],
      [{ kind: 'malformed', target: 'xfs-fs', at: 0, for: '1s', everyMs: 1 }, /^faults\[2\]\.everyMs: expected 10 to 60000 ms/],
    ];
    for (const [raw, message] of bad) assert.throws(() => parse(raw), (e: Error) => e instanceof PlanError && message.test(e.message), JSON.stringify(raw));
  });

  it('malformed sends garbage, an unknown version and a non-envelope in turn', () => {
    assert.throws(() => JSON.parse(malformedValue(0, 't')));
    assert.equal((JSON.parse(malformedValue(1, 't')) as { version: number }).version, 99);
    assert.equal((JSON.parse(malformedValue(2, 't')) as { version?: number }).version, undefined);
  });
});

describe('fault kinds: preflight against the stack as it is', () => {
  const services = { 'xfs-fs': { pid: 1, port: 7104, name: 'xfs-fs' }, 'mm-process-2': { pid: 2, port: 7115, name: 'mm-process' } };
  const noProxy = { startedAt: '', services } as unknown as StackState;
  const withProxy = { ...noProxy, proxy: { pid: 3, controlPort: 7890, logFile: '', pidFile: '', edges: { 'xfs-fs->postgres': { port: 7800, upstream: '127.0.0.1:5432' } } } } as StackState;
  const preflight = (raw: Record<string, unknown>, state: StackState) => {
    const kind = KINDS.get(String(raw['kind'])) as FaultKind;
    return kind.preflight?.(kind.parse(raw, 'faults[0]'), state);
  };

  it('a network fault on a stack without the proxy: one line saying to start it with --proxies', () => {
    for (const kind of ['latency', 'blackhole', 'reset']) {
      const why = preflight({ kind, target: 'xfs-fs->postgres', at: 0, for: '1s', ...(kind === 'latency' ? { latencyMs: 10 } : {}) }, noProxy);
      assert.match(why ?? '', /^the stack runs without the TCP proxy: .*mfsim stack up --proxies`$/, kind);
      assert.ok(!(why ?? '').includes('\n'));
    }
  });

  it('a network fault on an edge the proxy does not have names the edges it has', () => {
    assert.equal(preflight({ kind: 'reset', target: 'mm-process->redis', at: 0, for: '1s' }, withProxy), 'no such edge in the stack (edges: xfs-fs->postgres)');
    assert.equal(preflight({ kind: 'reset', target: 'xfs-fs->postgres', at: 0, for: '1s' }, withProxy), undefined);
  });

  it('an application fault on a service with no process in the stack is refused; a replica or all is fine', () => {
    assert.match(preflight({ kind: 'slow-handler', target: 'dm-mapper', at: 0, for: '1s', delayMs: 5 }, noProxy) ?? '', /^no such service process in the stack \(have: xfs-fs, mm-process-2\)$/);
    assert.equal(preflight({ kind: 'consumer-delay', target: 'mm-process', at: 0, for: '1s', delayMs: 5 }, noProxy), undefined);
    assert.equal(preflight({ kind: 'duplicate', target: 'xfs-fs', at: 0, for: '1s' }, noProxy), undefined);
    assert.equal(preflight({ kind: 'malformed', target: 'all', at: 0, for: '1s' }, noProxy), undefined);
  });
});

describe('network fault probe', () => {
  it('answered, silent (open), reset and refused, against real sockets', async () => {
    const answer = net.createServer((s) => s.once('data', () => s.write('N')));
    const silent = net.createServer((s) => s.on('error', () => undefined));
    const reset = net.createServer((s) => s.resetAndDestroy());
    const ports: number[] = [];
    for (const srv of [answer, silent, reset]) {
      await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
      ports.push((srv.address() as net.AddressInfo).port);
    }
    try {
      assert.equal((await probe(ports[0] as number, 'postgres', 2000)).kind, 'answered');
      const s = await probe(ports[1] as number, 'redis', 200);
      assert.deepEqual({ kind: s.kind, open: (s as { open: boolean }).open }, { kind: 'silent', open: true });
      assert.equal((await probe(ports[2] as number, 'kafka', 2000)).kind, 'reset');
      const free = net.createServer();
      await new Promise<void>((r) => free.listen(0, '127.0.0.1', () => r()));
      const freePort = (free.address() as net.AddressInfo).port;
      await new Promise<void>((r) => free.close(() => r()));
      assert.equal((await probe(freePort, 'redis', 2000)).kind, 'refused');
    } finally {
      for (const srv of [answer, silent, reset]) srv.close();
      silent.unref();
    }
  });
});
