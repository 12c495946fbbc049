import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';

import { Client } from 'pg';

import { listMigrations } from './migrations/migration-list';
import { NO_EXTERNAL_ENTITIES, withSchemaEngine } from './migrations/schema-engine';
import { applyMigrationsWithSql } from './migrations/sql-runner';
import { DEFAULT_MIGRATIONS_DIR } from './paths';

export interface MigrateOptions {
  /** URL of the database to migrate (it must exist, see ensureDatabase). */
  databaseUrl: string;
  /** Directory of `<timestamp>_<name>/migration.sql` folders; default: <repo>/prisma/migrations. */
  migrationsDir?: string;
  /** Prisma schema; default: schema.prisma beside the migrations directory, when present. */
  schemaPath?: string;
  /** Progress and engine messages, one line each. */
  log?: (message: string) => void;
}

export interface MigrateDeployOptions extends MigrateOptions {
  /**
   * 'schema-engine' (default) runs Prisma's own applyMigrations in WebAssembly, i.e. exactly
   * `prisma migrate deploy`. 'sql' is the fallback for when the internal WASM API breaks: it
   * applies each migration.sql in its own transaction and writes `_prisma_migrations` rows that
   * Prisma accepts as applied.
   */
  runner?: 'schema-engine' | 'sql';
  /** Create the database first when it does not exist (the CLI's deploy does). Default false. */
  ensureDatabase?: boolean;
}

export interface MigrationStatus {
  /** Migration directories found locally, in apply order. */
  local: string[];
  hasMigrationsTable: boolean;
  /** Local migrations not yet applied to the database. */
  pending: string[];
  /** Applied to the database but missing from the migrations directory. */
  unknown: string[];
  /** Started but not finished (Prisma refuses to deploy until resolved, error P3009). */
  failed: string[];
  /** Applied, but migration.sql changed since (checksum mismatch). */
  edited: string[];
  /** True when nothing is pending, unknown, failed or edited. */
  upToDate: boolean;
}

/**
 * Applies every pending migration of `migrationsDir`, as `prisma migrate deploy` does, and
 * returns the names applied (empty when the database was up to date).
 *
 * Deploys are serialised across processes with an mfsim advisory lock held on a connection of
 * our own for the whole run. The engine takes Prisma's lock too, but through a pool, where a
 * session lock may land on one connection and the work on another.
 */
export async function migrateDeploy(options: MigrateDeployOptions): Promise<{ applied: string[] }> {
  const log = options.log ?? (() => undefined);
  const migrationsDir = path.resolve(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  if (options.ensureDatabase) await ensureDatabaseExists(options.databaseUrl, log);
  const started = performance.now();
  const applied = await withDeployLock(options.databaseUrl, async () => {
    if (options.runner === 'sql') {
      return applyMigrationsWithSql({ databaseUrl: options.databaseUrl, migrationsDir, log });
    }
    const migrationsList = await listMigrations(migrationsDir);
    const schema = await readSchema(options.schemaPath, migrationsDir);
    const output = await withSchemaEngine({ databaseUrl: options.databaseUrl, schema, log }, (engine) =>
      engine.applyMigrations({ migrationsList, filters: NO_EXTERNAL_ENTITIES }),
    );
    return output.appliedMigrationNames;
  });
  const ms = Math.round(performance.now() - started);
  log(
    applied.length === 0
      ? `migrate.deploy.up_to_date: no pending migrations (${ms} ms)`
      : `migrate.deploy.applied: ${applied.join(', ')} (${ms} ms)`,
  );
  return { applied };
}

/** The `prisma migrate status` view: what is applied, pending, failed or edited. */
export async function migrationStatus(options: MigrateOptions): Promise<MigrationStatus> {
  const migrationsDir = path.resolve(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  const migrationsList = await listMigrations(migrationsDir);
  const schema = await readSchema(options.schemaPath, migrationsDir);
  const diagnosis = await withSchemaEngine(
    { databaseUrl: options.databaseUrl, schema, log: options.log },
    (engine) =>
      engine.diagnoseMigrationHistory({
        migrationsList,
        optInToShadowDatabase: false,
        filters: NO_EXTERNAL_ENTITIES,
      }),
  );
  const history = diagnosis.history;
  const pending =
    history?.diagnostic === 'databaseIsBehind' || history?.diagnostic === 'historiesDiverge'
      ? history.unappliedMigrationNames
      : [];
  const unknown =
    history?.diagnostic === 'migrationsDirectoryIsBehind' ||
    history?.diagnostic === 'historiesDiverge'
      ? history.unpersistedMigrationNames
      : [];
  const failed = diagnosis.failedMigrationNames;
  const edited = diagnosis.editedMigrationNames;
  return {
    local: migrationsList.migrationDirectories.map((dir) => dir.path),
    hasMigrationsTable: diagnosis.hasMigrationsTable,
    pending,
    unknown,
    failed,
    edited,
    upToDate: pending.length + unknown.length + failed.length + edited.length === 0,
  };
}

/**
 * SQL that takes the database from what the migrations directory builds to what schema.prisma
 * describes: the body of the next migration (`prisma migrate diff --from-migrations
 * --to-schema --script`). Replaying the migrations needs a temporary shadow database, created
 * and dropped through `databaseUrl`, so that role needs CREATEDB; the database at `databaseUrl`
 * itself is not read or changed. With `from: 'empty'` no database is touched at all.
 * Returns "-- This is an empty migration." when there is nothing to do.
 */
export async function migrationDiff(
  options: MigrateOptions & { from?: 'migrations' | 'empty' },
): Promise<string> {
  const migrationsDir = path.resolve(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);
  const schema = await readSchema(options.schemaPath, migrationsDir);
  if (!schema) throw new Error(`migrate.diff: no Prisma schema found for ${migrationsDir}`);
  const from =
    options.from === 'empty'
      ? ({ tag: 'empty' } as const)
      : ({ tag: 'migrations', ...(await listMigrations(migrationsDir)) } as const);
  const result = await withSchemaEngine(
    { databaseUrl: options.databaseUrl, schema, log: options.log },
    (engine) =>
      engine.diff({
        from,
        to: { tag: 'schemaDatamodel', files: [schema] },
        script: true,
        exitCode: null,
        filters: NO_EXTERNAL_ENTITIES,
      }),
  );
  return result.stdout ?? '';
}

// Any constant works as long as it differs from Prisma's own 72707369, which the engine takes
// on a pooled connection inside our lock (same key, other session: it would wait for itself).
const MFSIM_DEPLOY_LOCK_KEY = 6_610_236_173;

async function withDeployLock<T>(databaseUrl: string, fn: () => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MFSIM_DEPLOY_LOCK_KEY]);
    return await fn();
  } finally {
    // Ending the session releases the lock even if the unlock is never reached.
    await client.end();
  }
}

async function ensureDatabaseExists(databaseUrl: string, log: (m: string) => void): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.replace(/^\//, ''));
  if (!name) throw new Error('migrate.deploy: the database URL names no database');
  url.pathname = '/postgres';
  const admin = new Client({ connectionString: url.toString() });
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount) return;
    try {
      await admin.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      log(`migrate.deploy.database_created: ${name}`);
    } catch (error) {
      // 42P04 duplicate_database: another deploy created it in the meantime.
      if ((error as { code?: string }).code !== '42P04') throw error;
    }
  } finally {
    await admin.end();
  }
}

async function readSchema(
  schemaPath: string | undefined,
  migrationsDir: string,
): Promise<{ path: string; content: string } | undefined> {
  const candidate = schemaPath ?? path.join(path.dirname(migrationsDir), 'schema.prisma');
  if (!schemaPath && !existsSync(candidate)) return undefined;
  return { path: candidate, content: await readFile(candidate, 'utf8') };
}
