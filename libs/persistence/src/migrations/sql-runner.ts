import { randomUUID } from 'node:crypto';

import { Client } from 'pg';

import { listMigrations, migrationChecksum } from './migration-list';

/** Prisma Migrate's advisory lock key; taking it keeps out a concurrent `prisma migrate deploy`. */
export const PRISMA_MIGRATE_LOCK_KEY = 72707369;

// Same DDL as the schema engine's, so a database may go back and forth between this runner,
// the WASM engine and the native `prisma migrate deploy`.
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface MigrationRow {
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  rolled_back_at: Date | null;
}

/**
 * Fallback for migrateDeploy({ runner: 'sql' }): applies pending migrations with plain pg.
 *
 * Each migration runs in its own transaction together with its `_prisma_migrations` row
 * (checksum = SHA-256 hex of migration.sql, applied_steps_count = 1), so a failure leaves no
 * half-applied migration and no failed row. Differences from Prisma: Prisma records a failed
 * row instead (fixed with `migrate resolve`), and statements that cannot run inside a
 * transaction (CREATE INDEX CONCURRENTLY, ALTER TYPE ... ADD VALUE before PG 12) fail here.
 * A failed row written by Prisma stops this runner the way P3009 stops `migrate deploy`.
 */
export async function applyMigrationsWithSql(options: {
  databaseUrl: string;
  migrationsDir: string;
  log: (message: string) => void;
}): Promise<string[]> {
  const { log } = options;
  const list = await listMigrations(options.migrationsDir);
  const client = new Client({ connectionString: options.databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const rows = await client.query<MigrationRow>(
      `SELECT checksum, finished_at, migration_name, rolled_back_at
         FROM "_prisma_migrations" ORDER BY started_at`,
    );
    const live = rows.rows.filter((row) => row.rolled_back_at === null);
    const failed = live.filter((row) => row.finished_at === null);
    if (failed.length > 0) {
      throw new Error(
        `migrate.deploy.failed_migration: ${failed.map((row) => row.migration_name).join(', ')} ` +
          'failed earlier; resolve it (prisma migrate resolve) before deploying (P3009)',
      );
    }
    const applied = new Map(live.map((row) => [row.migration_name, row.checksum]));
    const done: string[] = [];
    for (const dir of list.migrationDirectories) {
      const content = dir.migrationFile.content;
      if (content.tag === 'error') {
        throw new Error(`migrate.deploy.unreadable: ${dir.path}: ${content.value}`);
      }
      const checksum = migrationChecksum(content.value);
      const previous = applied.get(dir.path);
      if (previous !== undefined) {
        if (previous !== checksum) log(`migrate.deploy.edited_migration: ${dir.path} changed after it was applied`);
        continue;
      }
      log(`migrate.deploy.applying: ${dir.path}`);
      await applyOne(client, dir.path, content.value, checksum);
      done.push(dir.path);
    }
    return done;
  } finally {
    await client.end();
  }
}

async function applyOne(client: Client, name: string, script: string, checksum: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, $3, now(), 0)`,
      [randomUUID(), checksum, name],
    );
    // Simple query protocol (no parameters): the whole script runs as given, many statements.
    await client.query(script);
    await client.query(
      `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1
        WHERE migration_name = $1 AND finished_at IS NULL AND rolled_back_at IS NULL`,
      [name],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new Error(`migrate.deploy.migration_failed: ${name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
