/**
 * Network faults on an edge between a service and Kafka, PostgreSQL or Redis (`xfs-fs->postgres`,
 * `mm-process->redis`, `xfs-fs->kafka`), through the stack's TCP proxy (`mfsim stack up --proxies`,
 * libs/stack tcp-proxy.ts):
 *
 *   latency    latencyMs (required), jitterMs (0), direction (both|upstream|downstream)
 *   blackhole  direction (both): connections stay open, the bytes go nowhere
 *   reset      existing and new connections are reset (ECONNRESET)
 *
 * `start` sets the toxic through the proxy's control API; `effect` is seen by a probe connection
 * through the same edge speaking the upstream's protocol (a PostgreSQL SSLRequest, a Redis PING, a
 * Kafka ApiVersions request): its round trip measured slower, no answer while the connection stays
 * open, or a reset, together with the proxy's counters (delay applied, bytes dropped, resets).
 * `end` removes the toxic.
 */
import { randomUUID } from 'node:crypto';
import * as net from 'node:net';

import { ProxyControl, type ToxicDirection } from '@mfsim/stack';

import type { ProxyEdge, StackState } from '../../stack/state';
import { ActiveFault, FaultContext, FaultKind, FaultSpec, PlanError } from './fault';
import { baseSpec, intField, onlyFields } from './spec-fields';

export interface LatencySpec extends FaultSpec {
  readonly kind: 'latency';
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly direction: ToxicDirection;
}
export interface BlackholeSpec extends FaultSpec {
  readonly kind: 'blackhole';
  readonly direction: ToxicDirection;
}
export interface ResetSpec extends FaultSpec {
  readonly kind: 'reset';
}

const EDGE = /^(.+)->(kafka|postgres|redis)$/;
type Upstream = 'kafka' | 'postgres' | 'redis';

function edgeTarget(spec: FaultSpec, path: string): void {
  if (!EDGE.test(spec.target)) throw new PlanError(`${path}.target`, `"${spec.target}" is not an edge: expected <service>->kafka|postgres|redis (e.g. xfs-fs->postgres)`);
}

function direction(raw: Record<string, unknown>, path: string): ToxicDirection {
  const d = raw['direction'] ?? 'both';
  if (d !== 'both' && d !== 'upstream' && d !== 'downstream') throw new PlanError(`${path}.direction`, `expected both, upstream or downstream, got ${JSON.stringify(d)}`);
  return d;
}

/** Why `target` is not an edge of the running stack (no proxy, no such edge), or undefined. */
export function edgeRefusal(target: string, state: StackState): string | undefined {
  if (!state.proxy) return 'the stack runs without the TCP proxy: network faults need `npx mfsim stack down` then `npx mfsim stack up --proxies`';
  if (!state.proxy.edges[target]) return `no such edge in the stack (edges: ${Object.keys(state.proxy.edges).join(', ') || 'none'})`;
  return undefined;
}

/** The proxy edge of `target` in the running stack, with its control API client. */
function resolveEdge(target: string, ctx: FaultContext): { control: ProxyControl; edge: ProxyEdge; upstream: Upstream } {
  const state = ctx.state();
  const why = edgeRefusal(target, state);
  if (why !== undefined || !state.proxy) throw new Error(`${target}: ${why}`);
  const proxy = state.proxy;
  const edge = proxy.edges[target] as ProxyEdge;
  const token = ctx.adminToken ?? state.adminToken;
  return { control: new ProxyControl(`http://127.0.0.1:${proxy.controlPort}`, token), edge, upstream: (EDGE.exec(target) as RegExpExecArray)[2] as Upstream };
}

/** A request the upstream answers at once, in its own protocol. */
function probeRequest(upstream: Upstream): Buffer {
  switch (upstream) {
    case 'postgres': {
      // SSLRequest: length 8, code 80877103; the server answers one byte, 'S' or 'N'.
      const b = Buffer.alloc(8);
      b.writeInt32BE(8, 0);
      b.writeInt32BE(80877103, 4);
      return b;
    }
    case 'redis':
      return Buffer.from('*1\r\n$4\r\nPING\r\n');
    case 'kafka': {
      // ApiVersions v0: size, api key 18, version 0, correlation id, client id.
      const client = Buffer.from('mfsim-nemesis-probe');
      const b = Buffer.alloc(4 + 2 + 2 + 4 + 2 + client.length);
      b.writeInt32BE(b.length - 4, 0);
      b.writeInt16BE(18, 4);
      b.writeInt16BE(0, 6);
      b.writeInt32BE(1, 8);
      b.writeInt16BE(client.length, 12);
      client.copy(b, 14);
      return b;
    }
  }
}

export type ProbeResult = { kind: 'answered'; ms: number } | { kind: 'silent'; ms: number; open: boolean } | { kind: 'reset'; code: string } | { kind: 'refused'; code: string };

/** Connects to 127.0.0.1:`port`, sends the upstream's probe request and waits for any answer. */
export function probe(port: number, upstream: Upstream, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    let connected = false;
    let done = false;
    const socket = net.connect({ host: '127.0.0.1', port });
    const finish = (r: ProbeResult) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => finish({ kind: 'silent', ms: Date.now() - t0, open: !socket.destroyed && connected }), timeoutMs);
    socket.once('connect', () => {
      connected = true;
      socket.write(probeRequest(upstream));
    });
    socket.once('data', () => finish({ kind: 'answered', ms: Date.now() - t0 }));
    socket.once('error', (e: NodeJS.ErrnoException) => finish(connected || e.code === 'ECONNRESET' ? { kind: 'reset', code: e.code ?? 'error' } : { kind: 'refused', code: e.code ?? 'error' }));
    socket.once('close', () => finish({ kind: 'reset', code: 'closed' }));
  });
}

/** Sets `toxic` on the edge and returns the ActiveFault whose effect `observe` finds. */
async function withToxic(
  spec: FaultSpec,
  ctx: FaultContext,
  toxic: Record<string, unknown>,
  observe: (edge: { control: ProxyControl; port: number; upstream: Upstream; name: string }) => Promise<string>,
): Promise<ActiveFault> {
  const { control, edge, upstream } = resolveEdge(spec.target, ctx);
  const name = `chaos-${spec.kind}-${randomUUID().slice(0, 8)}`;
  await control.addToxic(spec.target, { ...toxic, name });
  ctx.say(`${spec.kind} on ${spec.target}: toxic ${name} set`);
  let ended: Promise<void> | undefined;
  const effect = observe({ control, port: edge.port, upstream, name: spec.target });
  effect.catch(() => undefined);
  return {
    effect,
    end: () => (ended ??= control.removeToxic(spec.target, name)),
  };
}

export const latencyFault: FaultKind<LatencySpec> = {
  kind: 'latency',
  summary: 'latency on an edge (<service>->kafka|postgres|redis): latencyMs, jitterMs (0), direction (both|upstream|downstream); seen by a probe through the proxy',
  parse(raw, path) {
    onlyFields(raw, path, ['latencyMs', 'jitterMs', 'direction']);
    const base = baseSpec(raw, path);
    edgeTarget(base, path);
    const latencyMs = intField(raw, path, 'latencyMs', undefined, 1, 600_000);
    const jitterMs = intField(raw, path, 'jitterMs', 0, 0, 600_000);
    if (jitterMs > latencyMs) throw new PlanError(`${path}.jitterMs`, `must not exceed latencyMs (${latencyMs})`);
    return { ...base, kind: 'latency', latencyMs, jitterMs, direction: direction(raw, path) };
  },
  preflight: (spec, state) => edgeRefusal(spec.target, state),
  start(spec, ctx) {
    return withToxic(spec, ctx, { type: 'latency', latencyMs: spec.latencyMs, jitterMs: spec.jitterMs, direction: spec.direction }, async ({ control, port, upstream, name }) => {
      const want = Math.max(1, spec.latencyMs - spec.jitterMs) * (spec.direction === 'both' ? 2 : 1);
      const timeout = 4 * (spec.latencyMs + spec.jitterMs) + 5000;
      let last: ProbeResult | undefined;
      for (let attempt = 0; attempt < 3 && !ctx.signal.aborted; attempt += 1) {
        last = await probe(port, upstream, timeout);
        if (last.kind === 'answered' && last.ms >= want) {
          const c = (await control.proxy(name)).counters;
          return `probe through ${name} answered in ${last.ms} ms (latency ${spec.latencyMs}±${spec.jitterMs} ms, ${spec.direction}); proxy delayed ${c.delayedChunks} chunks, at most ${c.appliedDelayMsMax} ms`;
        }
      }
      throw new Error(`latency on ${name} not seen: the probe ${last?.kind === 'answered' ? `answered in ${last.ms} ms (< ${want} ms)` : `got ${JSON.stringify(last)}`}`);
    });
  },
};

export const blackholeFault: FaultKind<BlackholeSpec> = {
  kind: 'blackhole',
  summary: 'blackhole on an edge: connections stay open, bytes go nowhere; direction (both|upstream|downstream); seen by a probe that gets no answer',
  parse(raw, path) {
    onlyFields(raw, path, ['direction']);
    const base = baseSpec(raw, path);
    edgeTarget(base, path);
    return { ...base, kind: 'blackhole', direction: direction(raw, path) };
  },
  preflight: (spec, state) => edgeRefusal(spec.target, state),
  start(spec, ctx) {
    return withToxic(spec, ctx, { type: 'blackhole', direction: spec.direction }, async ({ control, port, upstream, name }) => {
      const wait = Math.min(1000, Math.max(200, Math.floor(spec.forMs / 3)));
      const r = await probe(port, upstream, wait);
      if (r.kind !== 'silent' || !r.open) throw new Error(`blackhole on ${name} not seen: the probe ${r.kind === 'answered' ? `was answered in ${r.ms} ms` : JSON.stringify(r)}`);
      const c = (await control.proxy(name)).counters;
      return `probe through ${name}: no answer in ${r.ms} ms, connection still open; proxy dropped ${c.blackholedBytes} bytes`;
    });
  },
};

export const resetFault: FaultKind<ResetSpec> = {
  kind: 'reset',
  summary: 'reset on an edge: its open connections and every new one are reset (ECONNRESET); seen by a probe that is reset',
  parse(raw, path) {
    onlyFields(raw, path, []);
    const base = baseSpec(raw, path);
    edgeTarget(base, path);
    return { ...base, kind: 'reset' };
  },
  preflight: (spec, state) => edgeRefusal(spec.target, state),
  start(spec, ctx) {
    return withToxic(spec, ctx, { type: 'reset' }, async ({ control, port, upstream, name }) => {
      const r = await probe(port, upstream, 3000);
      if (r.kind !== 'reset') throw new Error(`reset on ${name} not seen: the probe got ${JSON.stringify(r)}`);
      const c = (await control.proxy(name)).counters;
      return `probe through ${name} was reset (${r.code}); proxy reset ${c.resets} connections`;
    });
  },
};

/** The network fault kinds, for the nemesis registry. */
export const NETWORK_FAULTS: readonly FaultKind[] = [latencyFault, blackholeFault, resetFault] as unknown as readonly FaultKind[];
