/**
 * PostgreSQL and Redis for the stack: use the machine's servers when they answer; when they do not
 * and they are installed here, start them (and record that, so `down` stops only those).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import { probePostgres, probeRedis, ProbeResult, sleep, terminateProcess, withDatabase } from '@mfsim/testing';

import { hostPort, isLocalHost, StackConfig, StackError } from './config';
import { readPidFile, StackState } from './state';

const PG_CTLCLUSTER = '/usr/bin/pg_ctlcluster';

function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

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

/** Makes Redis answer on REDIS_URL. Same contract as ensurePostgres. */
export async function ensureRedis(config: StackConfig): Promise<{ started?: NonNullable<StackState['redis']>; line: string }> {
  const { host, port } = hostPort(config.redisUrl, 6379);
  const first = await probeRedis(config.redisUrl);
  if (first.ok) return { line: `${first.detail} at ${host}:${port} (already running, pid ${first.pid ?? '?'})` };
  if (!first.refused) throw new StackError(`Redis at ${host}:${port} answered but refused us: ${first.error}`);
  if (!isLocalHost(host) || !commandExists('redis-server')) {
    throw new StackError(
      isLocalHost(host)
        ? `Redis is not running at ${host}:${port} and redis-server is not installed: install redis-server or set REDIS_URL`
        : `Redis at ${host}:${port} is not reachable (${first.error}); it is not on this machine, so mfsim will not start it`,
    );
  }
  const pidFile = path.join(config.stackDir, 'redis.pid');
  const args = ['--daemonize', 'yes', '--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'];
  args.push('--pidfile', pidFile, '--logfile', path.join(config.stackDir, 'redis.log'), '--dir', config.stackDir);
  const result = spawnSync('redis-server', args, { encoding: 'utf8' });
  if (result.status !== 0) throw new StackError(`could not start redis-server: ${(result.stderr || result.stdout || '').trim()}`);
  const ready = await waitFor(() => probeRedis(config.redisUrl), 15_000);
  if (!ready.ok) throw new StackError(`started redis-server but it does not answer at ${host}:${port}: ${ready.error}`);
  const pid = ready.pid ?? readPidFile(pidFile);
  if (pid === undefined) throw new StackError('started redis-server but cannot tell its pid');
  return { started: { startedByUs: true, pid, port, pidFile }, line: `${ready.detail} at ${host}:${port} (started, pid ${pid})` };
}

export async function stopRedis(record: NonNullable<StackState['redis']>): Promise<string> {
  const result = await terminateProcess(record.pid, { graceMs: 10_000, expectInCommandLine: 'redis-server' });
  return `redis-server pid ${record.pid} (started by up): ${result}`;
}
