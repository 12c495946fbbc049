import type { Redis } from 'ioredis';

import type { PrismaClient } from './generated/prisma/client';

export type PingResult = { status: 'up' } | { status: 'down'; error: string };

export interface PingOptions {
  /** Report down when no answer came within this long; default 2000 ms. */
  timeoutMs?: number;
}

/**
 * Health check for PostgreSQL through the service's own Prisma client: `SELECT 1`.
 * Resolves `{ status: 'down', error }` on any failure or timeout; never rejects.
 */
export function pingPostgres(client: PrismaClient, options: PingOptions = {}): Promise<PingResult> {
  return ping(() => client.$queryRaw`SELECT 1`, options);
}

/**
 * Health check for Redis: PING must answer PONG. Resolves `{ status: 'down', error }` on any
 * failure or timeout (including a client that gave up reconnecting); never rejects.
 */
export function pingRedis(redis: Redis, options: PingOptions = {}): Promise<PingResult> {
  return ping(async () => {
    const reply = await redis.ping();
    if (reply !== 'PONG') throw new Error(`unexpected PING reply ${JSON.stringify(reply)}`);
  }, options);
}

async function ping(probe: () => Promise<unknown>, options: PingOptions): Promise<PingResult> {
  const timeoutMs = options.timeoutMs ?? 2000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([probe(), timeout]);
    return { status: 'up' };
  } catch (error) {
    return { status: 'down', error: describeError(error) };
  } finally {
    clearTimeout(timer);
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const message = error.message.trim().split('\n').filter(Boolean).pop() ?? error.name;
    return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
  }
  return String(error);
}
