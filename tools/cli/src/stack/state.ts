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

/** The Zipkin server `up` started: the trace backend, and where an incident's trace is shown. */
export interface ZipkinRecord extends ProcessRecord {
  /** http://127.0.0.1:<port>/zipkin/traces/{traceId} (trace-link.ts fills in the incident's trace id). */
  traceUrl: string;
  /** OTEL_EXPORTER_ZIPKIN_ENDPOINT the services got. */
  spansEndpoint: string;
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
  /** Set when `up` started Zipkin (then `down` stops it). */
  zipkin?: ZipkinRecord;
  /** Keyed by process id: `<service>` or `<service>-<replica>`. */
  services: Record<string, ServiceRecord>;
  /**
   * The admin token the services require for state-changing requests (MFSIM_ADMIN_TOKEN, or one
   * `up` generated). The file is written mode 0600.
   */
  adminToken?: string;
  /** Set when `up --proxies` started the TCP proxy (then the services reach Kafka, PostgreSQL and Redis through it). */
  proxy?: ProxyRecord;
}

/** The proxy process and its edges, `<service id>->postgres|redis|kafka`. */
export interface ProxyRecord {
  pid: number;
  controlPort: number;
  logFile: string;
  pidFile: string;
  edges: Record<string, ProxyEdge>;
}

export interface ProxyEdge {
  /** The port on 127.0.0.1 the service connects to. */
  port: number;
  /** host:port it forwards to. */
  upstream: string;
  /** For a Kafka edge: the broker's extra listener (its name, port) this edge forwards to. */
  kafkaListener?: { name: string; port: number };
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
  // Mode 0600: the state holds the admin token.
  rmSync(tmp, { force: true });
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
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
