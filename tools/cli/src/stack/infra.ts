/**
 * PostgreSQL and Redis for the stack.
 *   PostgreSQL: the machine's server when it answers; when it does not and it is installed here,
 *               up starts it (and records that, so `down` stops only that).
 *   Redis:      up runs a redis-server of its own (AOF on, data in .mfsim/stack/redis, port
 *               MFSIM_REDIS_PORT), unless REDIS_URL / --redis-url names one, which is used as is.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import {
  isRedisServerProcess,
  PortInUseError,
  probePostgres,
  probeRedis,
  ProbeResult,
  RedisServerError,
  sleep,
  startRedisServer,
  stopRedisServer,
  withDatabase,
} from '@mfsim/stack';

import { hostPort, isLocalHost, StackConfig, StackError } from './config';
import { readPidFile, RedisRecord, StackState } from './state';

const PG_CTLCLUSTER = '/usr/bin/pg_ctlcluster';

/** Installed PostgreSQL clusters as "<version>" names under /etc/postgresql, newest first. */
function installedPostgresVersions(): string[] {
  if (!existsSync(PG_CTLCLUSTER) || !existsSync('/etc/postgresql')) return [];
  return readdirSync('/etc/postgresql')
    .filter((v) => existsSync(path.join('/etc/postgresql', v, 'main')))
    .sort((a, b) => Number(b) - Number(a));
}

/** The postmaster pid of the local cluster <version>/main (newest installed when not given). */
export function localPostgresPid(version?: string): number | undefined {
  const v = version ?? installedPostgresVersions()[0];
  return v === undefined ? undefined : readPidFile(`/var/run/postgresql/${v}-main.pid`);
}

async function waitFor(probe: () => Promise<ProbeResult>, timeoutMs: number): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe();
    if (r.ok || Date.now() > deadline) return r;
    await sleep(300);
  }
}

/** The admin URL (database `postgres`) on the server of DATABASE_URL. */
export function adminUrl(config: StackConfig): string {
  return withDatabase(config.databaseUrl, 'postgres');
}

/**
 * Makes PostgreSQL answer on DATABASE_URL's server. Returns what to record in the state when this
 * call started it, and a line for the person.
 */
export async function ensurePostgres(config: StackConfig): Promise<{ started?: NonNullable<StackState['postgres']>; line: string }> {
  const url = adminUrl(config);
  const { host, port } = hostPort(url, 5432);
  const first = await probePostgres(url);
  if (first.ok) return { line: `${first.detail} at ${host}:${port} (already running)` };
  if (!first.refused) throw new StackError(`PostgreSQL at ${host}:${port} answered but refused us: ${first.error}`);
  const versions = installedPostgresVersions();
  if (!isLocalHost(host) || versions.length === 0) {
    throw new StackError(
      isLocalHost(host)
        ? `PostgreSQL is not running at ${host}:${port} and is not installed here (no ${PG_CTLCLUSTER} or /etc/postgresql/*/main): install postgresql or set DATABASE_URL`
        : `PostgreSQL at ${host}:${port} is not reachable (${first.error}); it is not on this machine, so mfsim will not start it`,
    );
  }
  const version = versions[0]!;
  const result = spawnSync(PG_CTLCLUSTER, ['--skip-systemctl-redirect', version, 'main', 'start'], { encoding: 'utf8' });
  if (result.status !== 0) {
    const why = (result.stderr || result.stdout || '').trim().split('\n').pop();
    throw new StackError(`PostgreSQL does not answer at ${host}:${port}, and starting cluster ${version}/main failed: ${why} (does DATABASE_URL name the right port?)`);
  }
  const ready = await waitFor(() => probePostgres(url), 30_000);
  if (!ready.ok) throw new StackError(`started PostgreSQL ${version}/main but it does not answer at ${host}:${port}: ${ready.error}`);
  return { started: { startedByUs: true, version, cluster: 'main' }, line: `${ready.detail} at ${host}:${port} (started ${version}/main)` };
}

export function stopPostgres(record: NonNullable<StackState['postgres']>): string {
  const result = spawnSync(PG_CTLCLUSTER, ['--skip-systemctl-redirect', record.version, record.cluster, 'stop'], { encoding: 'utf8' });
  if (result.status !== 0) return `could not stop PostgreSQL ${record.version}/${record.cluster}: ${(result.stderr || '').trim()}`;
  return `stopped PostgreSQL ${record.version}/${record.cluster} (started by up)`;
}

/**
 * Makes the services' Redis answer: starts the stack's own redis-server (config.ownRedis), or
 * checks the one REDIS_URL / --redis-url names. Returns what to record when it started one.
 */
export async function ensureRedis(config: StackConfig): Promise<{ started?: RedisRecord; line: string }> {
  const own = config.ownRedis;
  if (!own) {
    const { host, port } = hostPort(config.redisUrl, 6379);
    const r = await probeRedis(config.redisUrl);
    if (!r.ok) throw new StackError(`Redis at ${host}:${port} (REDIS_URL/--redis-url) does not answer: ${r.error}; start it, or unset REDIS_URL so that up runs its own`);
    return { line: `${r.detail} at ${host}:${port} (given by REDIS_URL/--redis-url, pid ${r.pid ?? '?'})` };
  }
  try {
    const h = await startRedisServer({ port: own.port, dataDir: own.dataDir, logFile: own.logFile, appendfsync: own.appendfsync });
    const rel = own.dataDir.startsWith(`${config.root}${path.sep}`) ? path.relative(config.root, own.dataDir) : own.dataDir;
    return {
      started: { startedByUs: true, pid: h.pid, port: h.port, pidFile: own.pidFile, dataDir: h.dataDir, logFile: h.logFile, appendfsync: h.appendfsync },
      line: `${h.detail} at 127.0.0.1:${h.port} pid ${h.pid} (AOF appendfsync ${h.appendfsync}, data ${rel})`,
    };
  } catch (err) {
    if (err instanceof PortInUseError) throw new StackError(`${err.message}: stop what listens there or set MFSIM_REDIS_PORT (or REDIS_URL to use that Redis)`, 2);
    if (err instanceof RedisServerError) throw new StackError(err.message);
    throw err;
  }
}

/** Stops the redis-server up started (SIGTERM: it fsyncs its AOF first). Only that pid. */
export async function stopRedis(record: RedisRecord): Promise<string> {
  const result = await stopRedisServer(record.pid);
  return `redis-server pid ${record.pid}: ${result === 'exited' ? 'stopped' : result}`;
}

/** The recorded redis-server pid if it still runs that redis-server (for status). */
export function ownRedisPid(record: RedisRecord | undefined): number | undefined {
  return record && isRedisServerProcess(record.pid, record.port) ? record.pid : undefined;
}
