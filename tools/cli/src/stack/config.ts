/**
 * What `mfsim stack` runs, where, and on which ports: read once from the environment
 * (docs/conventions.md, "Runtime configuration").
 */
import * as path from 'node:path';

/** The repository root (this file runs from tools/cli/dist/stack). */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');

/** The five services, in the order they are started and listed, with their default HTTP ports. */
export const SERVICES = [
  { name: 'pmem-driver', defaultPort: 7101 },
  { name: 'dax-core', defaultPort: 7102 },
  { name: 'dm-mapper', defaultPort: 7103 },
  { name: 'xfs-fs', defaultPort: 7104 },
  { name: 'mm-process', defaultPort: 7105 },
] as const;

export type ServiceName = (typeof SERVICES)[number]['name'];

/**
 * An error meant for a person: `mfsim stack` prints its message on one line, without a stack
 * trace, and exits with `exitCode` (2: bad usage or configuration, 1: anything else).
 */
export class StackError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
  ) {
    super(message);
    this.name = 'StackError';
  }
}

export interface ServiceConfig {
  name: ServiceName;
  port: number;
  /** services/<name>/dist/main.js */
  mainJs: string;
  logFile: string;
  pidFile: string;
}

export interface StackConfig {
  root: string;
  /** .mfsim/stack */
  stackDir: string;
  stateFile: string;
  kafka: { port: number; controllerPort: number; dataDir: string; logFile: string; pidFile: string; heapMb: number };
  /** DATABASE_URL: the mfsim database. */
  databaseUrl: string;
  redisUrl: string;
  topicPrefix: string;
  redisPrefix: string | undefined;
  /** libs/telemetry/dist/register.js, preloaded into every service. */
  telemetryRegister: string;
  services: ServiceConfig[];
  /** How long `up` waits for everything to be healthy. */
  timeoutMs: number;
}

type Env = Record<string, string | undefined>;

function port(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new StackError(`${name}=${raw} is not a TCP port (1-65535)`, 2);
  return n;
}

function url(env: Env, name: string, fallback: string, protocols: string[]): string {
  const raw = env[name]?.trim() || fallback;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new StackError(`${name}=${raw} is not a URL`, 2);
  }
  if (!protocols.includes(parsed.protocol)) throw new StackError(`${name}=${raw} must start with ${protocols.map((p) => `${p}//`).join(' or ')}`, 2);
  return raw;
}

/** Reads the stack's configuration from `env`. Throws a StackError (exit 2) on a bad value. */
export function loadStackConfig(env: Env = process.env, opts: { timeoutMs?: number; root?: string } = {}): StackConfig {
  const root = opts.root ?? REPO_ROOT;
  const stackDir = path.join(root, '.mfsim', 'stack');
  const kafkaPort = port(env, 'MFSIM_KAFKA_PORT', 19092);
  const controllerPort = port(env, 'MFSIM_KAFKA_CONTROLLER_PORT', 19093);
  if (kafkaPort === controllerPort) throw new StackError(`MFSIM_KAFKA_PORT and MFSIM_KAFKA_CONTROLLER_PORT are both ${kafkaPort}`, 2);
  const heapRaw = env['MFSIM_KAFKA_HEAP_MB']?.trim();
  const heapMb = heapRaw ? Number(heapRaw) : 384;
  if (!Number.isInteger(heapMb) || heapMb < 128) throw new StackError(`MFSIM_KAFKA_HEAP_MB=${heapRaw} must be an integer >= 128`, 2);
  return {
    root,
    stackDir,
    stateFile: path.join(stackDir, 'state.json'),
    kafka: {
      port: kafkaPort,
      controllerPort,
      dataDir: path.join(stackDir, 'kafka'),
      logFile: path.join(stackDir, 'kafka.log'),
      pidFile: path.join(stackDir, 'kafka.pid'),
      heapMb,
    },
    databaseUrl: url(env, 'DATABASE_URL', 'postgresql://postgres@127.0.0.1:5432/mfsim', ['postgresql:', 'postgres:']),
    redisUrl: url(env, 'REDIS_URL', 'redis://127.0.0.1:6379', ['redis:']),
    topicPrefix: env['MFSIM_TOPIC_PREFIX'] ?? '',
    redisPrefix: env['MFSIM_REDIS_PREFIX'],
    telemetryRegister: path.join(root, 'libs', 'telemetry', 'dist', 'register.js'),
    services: SERVICES.map((s) => ({
      name: s.name,
      port: s.defaultPort,
      mainJs: path.join(root, 'services', s.name, 'dist', 'main.js'),
      logFile: path.join(stackDir, `${s.name}.log`),
      pidFile: path.join(stackDir, `${s.name}.pid`),
    })),
    timeoutMs: opts.timeoutMs ?? 120_000,
  };
}

/** The host and port of a URL, with the scheme's default port. */
export function hostPort(u: string, defaultPort: number): { host: string; port: number } {
  const parsed = new URL(u);
  return { host: parsed.hostname, port: parsed.port ? Number(parsed.port) : defaultPort };
}

/** Whether `host` is this machine (the only place `up` may start a server). */
export function isLocalHost(host: string): boolean {
  return ['127.0.0.1', 'localhost', '::1', '[::1]'].includes(host);
}
