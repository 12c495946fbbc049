/**
 * `mfsim stack up --proxies`: the stack's TCP proxy (libs/stack tcp-proxy.ts) as its own process,
 * and the edges it carries. Every service process i (in start order) gets three edges:
 *
 *   <id>->postgres   port MFSIM_PROXY_PORT_BASE + 3i       → the PostgreSQL of DATABASE_URL
 *   <id>->redis      port MFSIM_PROXY_PORT_BASE + 3i + 1   → the Redis of REDIS_URL
 *   <id>->kafka      port MFSIM_PROXY_PORT_BASE + 3i + 2   → a listener of the broker of its own
 *
 * Kafka tells a client the advertised address of the listener the client connected to, so the
 * broker gets one extra listener per service (ports after the edge ports), advertised at that
 * service's `->kafka` proxy port: the client's bootstrap and every later connection go through
 * the proxy. The services' DATABASE_URL, REDIS_URL and KAFKA_BROKERS point at their edges.
 */
import * as path from 'node:path';

import { ProxyControl, startDetachedProcess, waitFor } from '@mfsim/stack';

import { hostPort, REPO_ROOT, StackConfig, StackError } from './config';
import type { ProxyEdge, ProxyRecord } from './state';

/** libs/stack/dist/proxy-main.js */
export const PROXY_MAIN = path.join(REPO_ROOT, 'libs', 'stack', 'dist', 'proxy-main.js');

export const EDGE_KINDS = ['postgres', 'redis', 'kafka'] as const;
export type EdgeKind = (typeof EDGE_KINDS)[number];

/** The edges of every service process of `config`, by name. */
export function proxyEdges(config: StackConfig): Record<string, ProxyEdge> {
  const edges: Record<string, ProxyEdge> = {};
  const pg = hostPort(config.databaseUrl, 5432);
  const redis = hostPort(config.redisUrl, 6379);
  const n = config.services.length;
  const last = config.proxy.portBase + 4 * n - 1;
  if (last > 65535) throw new StackError(`MFSIM_PROXY_PORT_BASE=${config.proxy.portBase} is too high: the proxy edges need ports up to ${last}`, 2);
  config.services.forEach((s, i) => {
    const base = config.proxy.portBase + 3 * i;
    edges[`${s.id}->postgres`] = { port: base, upstream: `${pg.host}:${pg.port}` };
    edges[`${s.id}->redis`] = { port: base + 1, upstream: `${redis.host}:${redis.port}` };
    const listenerPort = config.proxy.portBase + 3 * n + i;
    edges[`${s.id}->kafka`] = { port: base + 2, upstream: `127.0.0.1:${listenerPort}`, kafkaListener: { name: `EDGE${i + 1}`, port: listenerPort } };
  });
  return edges;
}

/** The broker's extra listeners, one per `->kafka` edge, advertised at the edge's proxy port. */
export function kafkaEdgeListeners(edges: Record<string, ProxyEdge>): { name: string; port: number; advertisedPort: number }[] {
  return Object.values(edges).flatMap((e) => (e.kafkaListener ? [{ name: e.kafkaListener.name, port: e.kafkaListener.port, advertisedPort: e.port }] : []));
}

/** Every port the proxy and its edges take (checked free before `up` starts anything). */
export function proxyPorts(config: StackConfig, edges: Record<string, ProxyEdge>): { port: number; what: string }[] {
  return [
    { port: config.proxy.controlPort, what: 'proxy control' },
    ...Object.entries(edges).flatMap(([name, e]) => [{ port: e.port, what: `proxy ${name}` }, ...(e.kafkaListener ? [{ port: e.kafkaListener.port, what: `Kafka listener for ${name}` }] : [])]),
  ];
}

/** Starts the proxy process with `edges` and waits until its control API answers. */
export async function startProxy(config: StackConfig, edges: Record<string, ProxyEdge>, adminToken: string | undefined, signal: AbortSignal): Promise<ProxyRecord> {
  const args = [PROXY_MAIN, '--control-port', String(config.proxy.controlPort)];
  for (const [name, e] of Object.entries(edges)) args.push('--proxy', `${name}=${e.port}=${e.upstream}`);
  const pid = startDetachedProcess({
    command: process.execPath,
    args,
    logFile: config.proxy.logFile,
    cwd: config.root,
    env: { ...process.env, ...(adminToken ? { MFSIM_ADMIN_TOKEN: adminToken } : {}) },
  });
  const record: ProxyRecord = { pid, controlPort: config.proxy.controlPort, logFile: config.proxy.logFile, pidFile: config.proxy.pidFile, edges };
  const control = new ProxyControl(`http://127.0.0.1:${config.proxy.controlPort}`);
  await waitFor(
    'the proxy control API',
    async () => {
      if (signal.aborted) throw new StackError('interrupted');
      try {
        process.kill(pid, 0);
      } catch {
        throw new StackError(`the proxy exited at start: see ${path.relative(config.root, config.proxy.logFile)}`);
      }
      return Object.keys(await control.list().catch(() => ({}))).length === Object.keys(edges).length ? true : undefined;
    },
    20_000,
    100,
  ).catch((err: unknown) => {
    throw err instanceof StackError ? err : new StackError(`the proxy did not answer on 127.0.0.1:${config.proxy.controlPort}: see ${path.relative(config.root, config.proxy.logFile)}`);
  });
  return record;
}

/** `url` with its host and port replaced by 127.0.0.1:`port` (a service's URL through its edge). */
export function viaProxy(url: string, port: number): string {
  const u = new URL(url);
  u.hostname = '127.0.0.1';
  u.port = String(port);
  return u.toString();
}
