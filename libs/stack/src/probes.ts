/**
 * Probes of the real servers (PostgreSQL, Redis, Kafka): is it there, and what does it say.
 * Used by `mfsim stack` (up, status) and by the tests.
 */
import { Kafka, logLevel } from 'kafkajs';
import { Redis } from 'ioredis';
import { Client } from 'pg';

export interface ProbeResult {
  ok: boolean;
  /** Nothing listens there (ECONNREFUSED): the server is down rather than misconfigured. */
  refused: boolean;
  /** What went wrong, when !ok. */
  error?: string;
  /** The server's pid, when it tells (PostgreSQL backend's postmaster is not told; Redis is). */
  pid?: number;
  /** A short description of what answered ("PostgreSQL 15.14", "Redis 7.0.15", "1 broker"). */
  detail?: string;
}

function failure(err: unknown): ProbeResult {
  const e = err as NodeJS.ErrnoException & { errors?: NodeJS.ErrnoException[] };
  // pg and ioredis report a refused connection as ECONNREFUSED (or an AggregateError of them).
  const codes = [e?.code, ...(e?.errors ?? []).map((x) => x.code)];
  const message = e?.message || (e?.errors ?? []).map((x) => x.message).join('; ') || String(err);
  return { ok: false, refused: codes.includes('ECONNREFUSED'), error: message };
}

/** SELECT version() on `url`. */
export async function probePostgres(url: string, timeoutMs = 3_000): Promise<ProbeResult> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const res = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    return { ok: true, refused: false, detail: `PostgreSQL ${res.rows[0]?.v ?? '?'}` };
  } catch (err) {
    return failure(err);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** PING and INFO server on `url`. */
export async function probeRedis(url: string, timeoutMs = 3_000): Promise<ProbeResult> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  // With no retries, connect() only says "Connection is closed."; the cause arrives as 'error'.
  let cause: unknown;
  redis.on('error', (err) => {
    cause ??= err;
  });
  try {
    await redis.connect();
    await redis.ping();
    const info = await redis.info('server');
    const pid = Number(/process_id:(\d+)/.exec(info)?.[1]);
    const version = /redis_version:([^\r\n]+)/.exec(info)?.[1] ?? '?';
    return { ok: true, refused: false, pid: Number.isFinite(pid) ? pid : undefined, detail: `Redis ${version}` };
  } catch (err) {
    return failure(cause ?? err);
  } finally {
    redis.disconnect();
  }
}

/** describeCluster on `brokers`, without retries. */
export async function probeKafka(brokers: string[], timeoutMs = 3_000): Promise<ProbeResult> {
  const admin = new Kafka({
    clientId: 'mfsim-probe',
    brokers,
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return { ok: true, refused: false, detail: `${cluster.brokers.length} broker(s), controller ${cluster.controller}` };
  } catch (err) {
    const r = failure(err);
    return { ...r, refused: r.refused || /ECONNREFUSED|Connection error/i.test(r.error ?? '') };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
