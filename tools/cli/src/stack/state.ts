/**
 * What `mfsim stack up` started, so that `down` stops exactly that and nothing else.
 * Kept in .mfsim/stack/state.json, plus one <component>.pid file per process.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

import type { ServiceName, StackConfig } from './config';

export interface ProcessRecord {
  pid: number;
  port: number;
  logFile: string;
}

/** A service process `up` started. */
export interface ServiceRecord extends ProcessRecord {
  mainJs: string;
  /** The service (absent in a state written before replicas existed: then the key is the name). */
  name?: ServiceName;
  replica?: number;
}

/** The redis-server `up` started: its own AOF Redis (or, in an older state, the machine's). */
export interface RedisRecord {
  startedByUs: true;
  pid: number;
  port: number;
  pidFile: string;
  dataDir?: string;
  logFile?: string;
  appendfsync?: string;
}

export interface StackState {
  startedAt: string;
  /** The URLs `up` used, so that status and down look where up looked. */
  databaseUrl?: string;
  redisUrl?: string;
  kafka?: ProcessRecord & { controllerPort: number; dataDir: string };
  /** Set only when `up` started PostgreSQL itself (then `down` stops it). */
  postgres?: { startedByUs: true; version: string; cluster: string };
  /** Set when `up --own-postgres` started a PostgreSQL of its own (then `down` stops it). */
  ownPostgres?: { pid: number; port: number; dataDir: string; logFile: string };
  /** Set when `up` started a redis-server (then `down` stops it). */
  redis?: RedisRecord;
  /** Keyed by process id: `<service>` or `<service>-<replica>`. */
  services: Record<string, ServiceRecord>;
}

export function readState(config: StackConfig): StackState | undefined {
  if (!existsSync(config.stateFile)) return undefined;
  try {
    return JSON.parse(readFileSync(config.stateFile, 'utf8')) as StackState;
  } catch {
    return undefined;
  }
}

/** Writes the state atomically (a crash mid-write leaves the previous one). */
export function writeState(config: StackConfig, state: StackState): void {
  mkdirSync(config.stackDir, { recursive: true });
  const tmp = `${config.stateFile}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, config.stateFile);
}

export function writePidFile(file: string, pid: number): void {
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${pid}\n`);
}

export function readPidFile(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function removeFile(file: string): void {
  rmSync(file, { force: true });
}
