/**
 * `mfsim stack up --own-postgres`: a PostgreSQL server of the stack's own (initdb + postgres
 * under .mfsim/stack/pg, 127.0.0.1:MFSIM_POSTGRES_PORT, default 15432, trust auth), so that chaos
 * plans may kill or pause it without touching the machine's shared server. `down` stops it and
 * keeps its data dir (delete .mfsim/stack/pg to start empty). Run as root, the server runs as the
 * `postgres` user (PostgreSQL refuses root).
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import * as path from 'node:path';

import { isProcessAlive, probePostgres, sleep, tailFile, terminateProcess } from '@mfsim/stack';

import { StackError, type StackConfig } from './config';

export interface OwnPostgresRecord {
  pid: number;
  port: number;
  dataDir: string;
  logFile: string;
}

/** The newest installed PostgreSQL's bin directory (Debian layout), or undefined. */
export function postgresBinDir(): string | undefined {
  const base = '/usr/lib/postgresql';
  if (!existsSync(base)) return undefined;
  const v = readdirSync(base)
    .filter((d) => existsSync(path.join(base, d, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a))[0];
  return v === undefined ? undefined : path.join(base, v, 'bin');
}

/** uid/gid of the `postgres` user when we are root (PostgreSQL will not run as root). */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const r = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const g = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (r.status !== 0 || g.status !== 0) throw new StackError('running as root, and there is no postgres user to run PostgreSQL as');
  return { uid: Number(r.stdout.trim()), gid: Number(g.stdout.trim()) };
}

export async function startOwnPostgres(config: StackConfig): Promise<OwnPostgresRecord> {
  const own = config.ownPostgres;
  if (!own) throw new StackError('no --own-postgres configured');
  const bin = postgresBinDir();
  if (!bin) throw new StackError('--own-postgres: PostgreSQL is not installed here (no /usr/lib/postgresql/*/bin/postgres)', 2);
  const user = postgresUser();
  mkdirSync(own.dataDir, { recursive: true });
  if (user) spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, own.dataDir]);
  if (!existsSync(path.join(own.dataDir, 'PG_VERSION'))) {
    const r = spawnSync(path.join(bin, 'initdb'), ['-D', own.dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8'], {
      encoding: 'utf8',
      ...(user ?? {}),
    });
    if (r.status !== 0) throw new StackError(`--own-postgres: initdb failed: ${(r.stderr || r.stdout || '').trim().split('\n').pop()}`);
  }
  const out = openSync(own.logFile, 'a');
  let pid: number;
  try {
    const child = spawn(path.join(bin, 'postgres'), ['-D', own.dataDir, '-p', String(own.port), '-k', own.dataDir, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=on'], {
      stdio: ['ignore', out, out],
      detached: true,
      ...(user ?? {}),
    });
    child.once('error', () => undefined);
    if (child.pid === undefined) throw new StackError('--own-postgres: could not start postgres');
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(out);
  }
  const url = `postgresql://postgres@127.0.0.1:${own.port}/postgres`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (!isProcessAlive(pid)) throw new StackError(`--own-postgres: postgres exited at start. Last lines of ${own.logFile}:\n${tailFile(own.logFile, 15)}`);
    if ((await probePostgres(url, 1000)).ok) break;
    if (Date.now() > deadline) throw new StackError(`--own-postgres: postgres pid ${pid} does not answer on 127.0.0.1:${own.port}`);
    await sleep(200);
  }
  return { pid, port: own.port, dataDir: own.dataDir, logFile: own.logFile };
}

/** Stops the stack's own PostgreSQL (SIGTERM: smart shutdown, then SIGKILL after the grace). */
export async function stopOwnPostgres(record: OwnPostgresRecord): Promise<string> {
  const result = await terminateProcess(record.pid, { graceMs: 15_000, expectInCommandLine: record.dataDir });
  return `postgres pid ${record.pid} (own, ${record.dataDir}): ${result === 'exited' ? 'stopped' : result}`;
}
