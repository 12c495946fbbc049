import { PrismaPg } from '@prisma/adapter-pg';

import { Prisma, PrismaClient } from './generated/prisma/client';

export { Prisma, PrismaClient };
export type { ProcessedMessage, ServiceHeartbeat } from './generated/prisma/client';

/** The `tx` handed to an interactive transaction callback. */
export type PrismaTransaction = Prisma.TransactionClient;

export interface CreatePrismaClientOptions {
  /** PostgreSQL URL (DATABASE_URL). */
  databaseUrl: string;
  /** pg pool size; default 10 (pg's default). */
  poolMax?: number;
  /** Give up opening a connection after this long; default 5000 ms (pg's default waits forever). */
  connectionTimeoutMs?: number;
}

/**
 * Creates the generated Prisma client bound to PostgreSQL through @prisma/adapter-pg (Prisma 7:
 * no native query engine; queries are compiled in WebAssembly and run on a pg pool). The pool
 * connects lazily; call `$disconnect()` on shutdown.
 */
export function createPrismaClient(options: CreatePrismaClientOptions): PrismaClient {
  const adapter = new PrismaPg({
    connectionString: options.databaseUrl,
    max: options.poolMax ?? 10,
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 5000,
  });
  return new PrismaClient({ adapter });
}
