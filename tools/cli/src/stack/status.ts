/**
 * `mfsim stack status`: one row per component (each service replica its own row), with what answers
 * on its port right now.
 */
import { existsSync } from 'node:fs';
import * as path from 'node:path';

import { checkHealth, isProcessAlive, probeKafka, probePostgres, probeRedis, probeZipkin, ProxyControl } from '@mfsim/stack';

import { hostPort, isLocalHost, SERVICES, ServiceConfig, StackConfig } from './config';
import { adminUrl, localPostgresPid, ownRedisPid } from './infra';
import { kafkaPid, zipkinPid } from './lifecycle';
import { readPidFile, readState, StackState } from './state';

export interface StatusRow {
  component: string;
  pid: string;
  port: string;
  health: string;
  /** Counts against the exit code when not healthy. */
  expected: boolean;
  healthy: boolean;
}

/** Renders rows as an aligned text table. */
export function formatTable(rows: StatusRow[]): string {
  const header = ['COMPONENT', 'PID', 'PORT', 'HEALTH'];
  const cells = rows.map((r) => [r.component, r.pid, r.port, r.health]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!))).join('  ');
  return [line(header), ...cells.map(line)].join('\n');
}

export async function collectStatus(base: StackConfig): Promise<StatusRow[]> {
  const state = readState(base);
  // Look where `up` looked, whatever the environment says now.
  const config: StackConfig = { ...base, databaseUrl: state?.databaseUrl ?? base.databaseUrl, redisUrl: state?.redisUrl ?? base.redisUrl };
  const rows: StatusRow[] = [];

  const kPid = kafkaPid(config, state);
  const kPort = state?.kafka?.port ?? config.kafka.port;
  const k = await probeKafka([`127.0.0.1:${kPort}`], 2_000);
  rows.push({
    component: 'kafka',
    pid: kPid ? String(kPid) : '-',
    port: String(kPort),
    health: k.ok ? `ok (${k.detail})${kPid ? '' : ', not started by mfsim stack'}` : kPid ? `down: ${k.error}` : 'not running',
    expected: true,
    healthy: k.ok,
  });

  const ownPg = state?.ownPostgres;
  const pgUrl = ownPg ? `postgresql://postgres@127.0.0.1:${ownPg.port}/postgres` : adminUrl(config);
  const pg = await probePostgres(pgUrl, 2_000);
  const pgPid = ownPg ? ownPg.pid : pg.ok && isLocalHost(hostPort(pgUrl, 5432).host) ? localPostgresPid(state?.postgres?.version) : undefined;
  rows.push({
    component: 'postgres',
    pid: pgPid ? String(pgPid) : '-',
    port: String(hostPort(pgUrl, 5432).port),
    health: pg.ok ? `ok (${pg.detail})${state?.postgres ? ', started by mfsim stack' : ownPg ? ", mfsim stack's own (--own-postgres)" : ''}` : `down: ${pg.error}`,
    expected: true,
    healthy: pg.ok,
  });

  const r = await probeRedis(config.redisUrl, 2_000);
  const ownPid = ownRedisPid(state?.redis);
  const own = state ? state.redis?.startedByUs === true && state.redis.dataDir !== undefined : config.ownRedis !== undefined;
  const how = ownPid !== undefined ? `, mfsim stack's own: AOF appendfsync ${state?.redis?.appendfsync ?? '?'}` : own ? '' : ', external (REDIS_URL)';
  rows.push({
    component: 'redis',
    pid: ownPid !== undefined ? String(ownPid) : r.pid ? String(r.pid) : '-',
    port: String(hostPort(config.redisUrl, 6379).port),
    health: r.ok ? `ok (${r.detail})${how}` : own && ownPid === undefined ? 'not running' : `down: ${r.error}`,
    expected: true,
    healthy: r.ok,
  });

  // The trace backend: a row when `up` started one (or, with no state, when it would).
  if (state?.zipkin ?? (state === undefined && config.zipkin)) {
    const zPid = zipkinPid(config, state);
    const zPort = state?.zipkin?.port ?? config.zipkin!.port;
    const z = await probeZipkin(zPort, 2_000);
    rows.push({
      component: 'zipkin',
      pid: zPid ? String(zPid) : '-',
      port: String(zPort),
      health: z.ok ? `ok (${z.detail}) traces: ${state?.zipkin?.traceUrl ?? `http://127.0.0.1:${zPort}/zipkin/`}` : zPid ? `down: ${z.detail}` : 'not running',
      expected: state?.zipkin !== undefined,
      healthy: z.ok,
    });
  }

  const services = statusServices(config, state);
  const first = rows.length;
  await Promise.all(
    services.map(async (s, i) => {
      const pid = state?.services[s.id]?.pid ?? readPidFile(s.pidFile);
      const alive = pid !== undefined && isProcessAlive(pid);
      const built = existsSync(s.mainJs);
      const h = await checkHealth(s.port, 2_000);
      rows[first + i] = {
        component: s.id,
        pid: alive ? String(pid) : '-',
        port: String(s.port),
        health: h.status !== undefined ? h.summary : !built ? 'not built' : alive ? h.summary : 'not running',
        expected: built,
        healthy: h.status === 200,
      };
    }),
  );
  if (state?.proxy) {
    // `up --proxies`: the TCP proxy, its edges and the toxics in force.
    const proxy = state.proxy;
    const alive = isProcessAlive(proxy.pid);
    const list = alive ? await new ProxyControl(`http://127.0.0.1:${proxy.controlPort}`).list().catch(() => undefined) : undefined;
    const toxics = list ? Object.values(list).flatMap((p) => p.toxics.map((t) => `${p.name}:${t.type}`)) : [];
    rows.push({
      component: 'proxy',
      pid: alive ? String(proxy.pid) : '-',
      port: String(proxy.controlPort),
      health: list ? `ok (${Object.keys(list).length} edges; toxics: ${toxics.join(', ') || 'none'})` : alive ? 'control API does not answer' : 'not running',
      expected: true,
      healthy: list !== undefined,
    });
  }
  return rows;
}

/**
 * The service processes to list: what `up` recorded (its replicas, whatever the environment says
 * now), else what the configuration would start.
 */
function statusServices(config: StackConfig, state: StackState | undefined): ServiceConfig[] {
  const recorded = Object.entries(state?.services ?? {});
  if (recorded.length === 0) return config.services;
  const order = (name: string | undefined) => SERVICES.findIndex((s) => s.name === name);
  return recorded
    .map(([id, rec]) => {
      const name = rec.name ?? SERVICES.find((s) => s.name === id)?.name ?? SERVICES[0].name;
      return { name, replica: rec.replica ?? 1, id, port: rec.port, mainJs: rec.mainJs, logFile: rec.logFile, pidFile: path.join(config.stackDir, `${id}.pid`) };
    })
    .sort((a, b) => order(a.name) - order(b.name) || a.replica - b.replica);
}

/** Prints the table; exit code 0 when every expected component is healthy, else 1. */
export async function stackStatus(config: StackConfig, print: (text: string) => void): Promise<number> {
  const rows = await collectStatus(config);
  print(formatTable(rows));
  return rows.every((r) => r.healthy || !r.expected) ? 0 : 1;
}
