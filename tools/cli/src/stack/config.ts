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

/** One process of a service: the only one, or replica `replica` of several. */
export interface ServiceConfig {
  name: ServiceName;
  /** 1..replicas */
  replica: number;
  /** How status and the logs name it: `<name>` when it runs alone, `<name>-<replica>` otherwise. */
  id: string;
  port: number;
  /** services/<name>/dist/main.js */
  mainJs: string;
  /** .mfsim/stack/<id>.log */
  logFile: string;
  pidFile: string;
}

/** The redis-server `mfsim stack up` runs itself (AOF on, bound to 127.0.0.1). */
export interface OwnRedisConfig {
  port: number;
  /** .mfsim/stack/redis: the append-only file; kept by `down`, reused by the next `up`. */
  dataDir: string;
  logFile: string;
  pidFile: string;
  /** Fsync the AOF before every reply (libs/stack redis-server.ts explains the choice). */
  appendfsync: 'always';
}

/** The Zipkin server `mfsim stack up` runs as the trace backend (unless --no-traces). */
export interface ZipkinConfig {
  /** MFSIM_ZIPKIN_PORT (9411): collector, API and UI on 127.0.0.1. */
  port: number;
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
  /** The Redis the services get: the stack's own (redis://127.0.0.1:<MFSIM_REDIS_PORT>), or REDIS_URL / --redis-url. */
  redisUrl: string;
  /** Set when `up` runs its own redis-server; undefined when REDIS_URL or --redis-url names one. */
  ownRedis: OwnRedisConfig | undefined;
  /** Set by --own-postgres: a PostgreSQL of the stack's own (MFSIM_POSTGRES_PORT, data in .mfsim/stack/pg); DATABASE_URL then points at it. */
  ownPostgres?: { port: number; dataDir: string; logFile: string };
  topicPrefix: string;
  redisPrefix: string | undefined;
  /** The trace backend `up` starts (the services export to it); undefined with --no-traces. */
  zipkin: ZipkinConfig | undefined;
  /** libs/telemetry/dist/register.js, preloaded into every service. */
  telemetryRegister: string;
  /** MFSIM_HTTP_PORT_BASE: service k (1..5) replica i listens on base + k + 10*(i-1). */
  httpPortBase: number;
  /** How many processes of each service (MFSIM_REPLICAS / --replicas; 1 when not named). */
  replicas: Record<ServiceName, number>;
  /** Every service process, in start order: the services in SERVICES order, replicas together. */
  services: ServiceConfig[];
  /** How long `up` waits for everything to be healthy. */
  timeoutMs: number;
  /** The TCP proxy `up --proxies` starts (proxy-config.ts names its edges and ports). */
  proxy: ProxyConfig;
}

/** Where the stack's TCP proxy listens: its control API and the range its edges take ports from. */
export interface ProxyConfig {
  /** MFSIM_PROXY_CONTROL_PORT (7890): the control API on 127.0.0.1. */
  controlPort: number;
  /** MFSIM_PROXY_PORT_BASE (7800): edge ports base, base+1, …; Kafka's extra listeners follow them. */
  portBase: number;
  logFile: string;
  pidFile: string;
}

/** The most processes of one service `--replicas` accepts (ports stride 10 per replica). */
export const MAX_REPLICAS = 16;

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

/**
 * Parses a replica list, `SERVICE=COUNT[,SERVICE=COUNT...]` (e.g. `xfs-fs=2,mm-process=2`), for
 * `source` (`--replicas` or `MFSIM_REPLICAS`, named in the error). Services not named run once.
 * Throws a StackError (exit 2) whose one line names the problem.
 */
export function parseReplicas(text: string, source: string): Record<ServiceName, number> {
  const counts = Object.fromEntries(SERVICES.map((s) => [s.name, 1])) as Record<ServiceName, number>;
  const seen = new Set<string>();
  const names = SERVICES.map((s) => s.name).join(', ');
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '' && text.trim() === '') continue;
    const m = /^([^=\s]+)\s*=\s*(\S*)$/.exec(item);
    if (!m) throw new StackError(`${source}: "${item}" is not SERVICE=COUNT (e.g. xfs-fs=2,mm-process=2)`, 2);
    const [, name, count] = m as unknown as [string, string, string];
    if (!SERVICES.some((s) => s.name === name)) throw new StackError(`${source}: unknown service "${name}" (one of ${names})`, 2);
    if (seen.has(name)) throw new StackError(`${source}: ${name} is given twice`, 2);
    seen.add(name);
    const n = Number(count);
    if (!/^\d+$/.test(count) || n < 1 || n > MAX_REPLICAS) throw new StackError(`${source}: ${name}=${count}: the count must be an integer from 1 to ${MAX_REPLICAS}`, 2);
    counts[name as ServiceName] = n;
  }
  return counts;
}

/** The processes of every service: ports from `httpPortBase`, files under `stackDir`. */
export function serviceInstances(p: { root: string; stackDir: string; httpPortBase: number; replicas: Record<ServiceName, number> }): ServiceConfig[] {
  return SERVICES.flatMap((s, k) => {
    const n = p.replicas[s.name];
    return Array.from({ length: n }, (_, i) => {
      const id = n === 1 ? s.name : `${s.name}-${i + 1}`;
      return {
        name: s.name,
        replica: i + 1,
        id,
        port: p.httpPortBase + k + 1 + 10 * i,
        mainJs: path.join(p.root, 'services', s.name, 'dist', 'main.js'),
        logFile: path.join(p.stackDir, `${id}.log`),
        pidFile: path.join(p.stackDir, `${id}.pid`),
      };
    });
  });
}

export interface LoadStackOptions {
  timeoutMs?: number;
  /** The repository the services are built in. Default: this one. */
  root?: string;
  /** Where state, pid files, logs and data go. Default <root>/.mfsim/stack (tests use a temp dir). */
  stackDir?: string;
  /** --replicas: wins over MFSIM_REPLICAS. */
  replicas?: string;
  /** --redis-url: wins over REDIS_URL; either one means "use that Redis, start none". */
  redisUrl?: string;
  /** --no-traces: start no Zipkin (the services then trace only if OTEL_* says so). */
  noTraces?: boolean;
  /** --own-postgres: run a PostgreSQL of the stack's own on MFSIM_POSTGRES_PORT (default 15432). */
  ownPostgres?: boolean;
}

/** Reads the stack's configuration from `env`. Throws a StackError (exit 2) on a bad value. */
export function loadStackConfig(env: Env = process.env, opts: LoadStackOptions = {}): StackConfig {
  const root = opts.root ?? REPO_ROOT;
  const stackDir = opts.stackDir ?? path.join(root, '.mfsim', 'stack');
  const kafkaPort = port(env, 'MFSIM_KAFKA_PORT', 19092);
  const controllerPort = port(env, 'MFSIM_KAFKA_CONTROLLER_PORT', 19093);
  if (kafkaPort === controllerPort) throw new StackError(`MFSIM_KAFKA_PORT and MFSIM_KAFKA_CONTROLLER_PORT are both ${kafkaPort}`, 2);
  const heapRaw = env['MFSIM_KAFKA_HEAP_MB']?.trim();
  const heapMb = heapRaw ? Number(heapRaw) : 384;
  if (!Number.isInteger(heapMb) || heapMb < 128) throw new StackError(`MFSIM_KAFKA_HEAP_MB=${heapRaw} must be an integer >= 128`, 2);
  const httpPortBase = port(env, 'MFSIM_HTTP_PORT_BASE', 7100);
  const replicas =
    opts.replicas !== undefined ? parseReplicas(opts.replicas, '--replicas') : parseReplicas(env['MFSIM_REPLICAS'] ?? '', 'MFSIM_REPLICAS');
  const maxPort = httpPortBase + SERVICES.length + 10 * (Math.max(...Object.values(replicas)) - 1);
  if (maxPort > 65535) throw new StackError(`MFSIM_HTTP_PORT_BASE=${httpPortBase} is too high: the services would need ports up to ${maxPort}`, 2);

  const externalRedis =
    opts.redisUrl !== undefined
      ? url({ '--redis-url': opts.redisUrl }, '--redis-url', '', ['redis:', 'rediss:'])
      : env['REDIS_URL']?.trim()
        ? url(env, 'REDIS_URL', '', ['redis:', 'rediss:'])
        : undefined;
  const redisPort = port(env, 'MFSIM_REDIS_PORT', 16379);
  const ownRedis: OwnRedisConfig | undefined =
    externalRedis === undefined
      ? {
          port: redisPort,
          dataDir: path.join(stackDir, 'redis'),
          logFile: path.join(stackDir, 'redis.log'),
          pidFile: path.join(stackDir, 'redis.pid'),
          appendfsync: 'always',
        }
      : undefined;
  const taken = new Map<number, string>([
    [kafkaPort, 'MFSIM_KAFKA_PORT'],
    [controllerPort, 'MFSIM_KAFKA_CONTROLLER_PORT'],
  ]);
  if (ownRedis && taken.has(ownRedis.port)) throw new StackError(`MFSIM_REDIS_PORT and ${taken.get(ownRedis.port)} are both ${ownRedis.port}`, 2);
  if (ownRedis) taken.set(ownRedis.port, 'MFSIM_REDIS_PORT');
  const zipkinPort = port(env, 'MFSIM_ZIPKIN_PORT', 9411);
  const zipkin: ZipkinConfig | undefined = opts.noTraces
    ? undefined
    : { port: zipkinPort, logFile: path.join(stackDir, 'zipkin.log'), pidFile: path.join(stackDir, 'zipkin.pid') };
  if (zipkin && taken.has(zipkin.port)) throw new StackError(`MFSIM_ZIPKIN_PORT and ${taken.get(zipkin.port)} are both ${zipkin.port}`, 2);
  if (zipkin) taken.set(zipkin.port, 'MFSIM_ZIPKIN_PORT');
  const services = serviceInstances({ root, stackDir, httpPortBase, replicas });
  const clash = services.find((s) => taken.has(s.port));
  if (clash) throw new StackError(`${clash.id} would listen on ${clash.port}, which ${taken.get(clash.port)} uses: set MFSIM_HTTP_PORT_BASE`, 2);

  const pgPort = opts.ownPostgres ? port(env, 'MFSIM_POSTGRES_PORT', 15432) : 15432;
  const ownPostgres = opts.ownPostgres ? { port: pgPort, dataDir: path.join(stackDir, 'pg'), logFile: path.join(stackDir, 'postgres.log') } : undefined;
  const givenDb = url(env, 'DATABASE_URL', 'postgresql://postgres@127.0.0.1:5432/mfsim', ['postgresql:', 'postgres:']);
  return {
    root,
    stackDir,
    ...(ownPostgres ? { ownPostgres } : {}),
    stateFile: path.join(stackDir, 'state.json'),
    kafka: {
      port: kafkaPort,
      controllerPort,
      dataDir: path.join(stackDir, 'kafka'),
      logFile: path.join(stackDir, 'kafka.log'),
      pidFile: path.join(stackDir, 'kafka.pid'),
      heapMb,
    },
    databaseUrl: ownPostgres ? `postgresql://postgres@127.0.0.1:${ownPostgres.port}${new URL(givenDb).pathname}` : givenDb,
    redisUrl: externalRedis ?? `redis://127.0.0.1:${redisPort}`,
    ownRedis,
    topicPrefix: env['MFSIM_TOPIC_PREFIX'] ?? '',
    redisPrefix: env['MFSIM_REDIS_PREFIX'],
    zipkin,
    telemetryRegister: path.join(root, 'libs', 'telemetry', 'dist', 'register.js'),
    httpPortBase,
    replicas,
    services,
    timeoutMs: opts.timeoutMs ?? 120_000,
    proxy: {
      controlPort: port(env, 'MFSIM_PROXY_CONTROL_PORT', 7890),
      portBase: port(env, 'MFSIM_PROXY_PORT_BASE', 7800),
      logFile: path.join(stackDir, 'proxy.log'),
      pidFile: path.join(stackDir, 'proxy.pid'),
    },
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
