import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { createTestDatabase, type TestDatabase } from '@mfsim/testing';
import { Client } from 'pg';

import { migrateDeploy, migrationDiff, migrationStatus } from './migrate';
import { listMigrations, migrationChecksum } from './migrations/migration-list';
import { DEFAULT_MIGRATIONS_DIR } from './paths';

const MIGRATE_CLI = path.join(__dirname, '..', 'bin', 'migrate.js');

interface MigrationRow {
  applied_steps_count: number;
  checksum: string;
  finished_at: Date | null;
  id: string;
  logs: string | null;
  migration_name: string;
  rolled_back_at: Date | null;
}

async function query<R extends object>(url: string, sql: string): Promise<R[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(sql)).rows;
  } finally {
    await client.end();
  }
}

async function localMigrationNames(dir = DEFAULT_MIGRATIONS_DIR): Promise<string[]> {
  return (await listMigrations(dir)).migrationDirectories.map((d) => d.path);
}

describe('migrateDeploy (schema engine, WASM)', () => {
  const databases: TestDatabase[] = [];
  const freshDatabase = async () => {
    const db = await createTestDatabase();
    databases.push(db);
    return db;
  };
  after(() => Promise.all(databases.map((db) => db.drop())));

  it('applies the migrations, records sha256 checksums, and applies nothing the second time', async () => {
    const db = await freshDatabase();
    const names = await localMigrationNames();
    assert.ok(names.length >= 1 && names[0]!.endsWith('_init'), `unexpected migrations ${names}`);

    const first = await migrateDeploy({ databaseUrl: db.url });
    assert.deepEqual(first.applied, names);

    const rows = await query<MigrationRow>(
      db.url,
      'SELECT * FROM "_prisma_migrations" ORDER BY migration_name',
    );
    assert.deepEqual(rows.map((r) => r.migration_name), names);
    for (const row of rows) {
      const bytes = await readFile(path.join(DEFAULT_MIGRATIONS_DIR, row.migration_name, 'migration.sql'));
      assert.equal(row.checksum, migrationChecksum(bytes), `checksum of ${row.migration_name}`);
      assert.match(row.checksum, /^[0-9a-f]{64}$/);
      assert.equal(row.applied_steps_count, 1);
      assert.ok(row.finished_at instanceof Date);
      assert.equal(row.rolled_back_at, null);
      assert.match(row.id, /^[0-9a-f-]{36}$/);
    }

    const tables = await query<{ table_name: string }>(
      db.url,
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1",
    );
    assert.deepEqual(
      tables.map((t) => t.table_name),
      [
        '_prisma_migrations',
        'dax_call',
        'dax_entity',
        'dax_run',
        'dm_call',
        'dm_entity',
        'dm_run',
        'incident',
        'mm_call',
        'pmem_call',
        'pmem_entity',
        'pmem_run',
        'processed_message',
        'service_heartbeat',
        'xfs_call',
        'xfs_entity',
        'xfs_rmap',
        'xfs_run',
      ],
    );

    const second = await migrateDeploy({ databaseUrl: db.url });
    assert.deepEqual(second.applied, []);
    assert.equal((await query(db.url, 'SELECT 1 FROM "_prisma_migrations"')).length, names.length);

    const status = await migrationStatus({ databaseUrl: db.url });
    assert.equal(status.upToDate, true);
    assert.deepEqual(status.pending, []);
    assert.deepEqual(status.local, names);
  });

  it('reports pending migrations on an empty database, and edited ones after a change', async () => {
    const db = await freshDatabase();
    const names = await localMigrationNames();
    const before = await migrationStatus({ databaseUrl: db.url });
    assert.equal(before.hasMigrationsTable, false);
    assert.deepEqual(before.pending, names);
    assert.equal(before.upToDate, false);

    const dir = await mkdtemp(path.join(tmpdir(), 'mfsim-migrations-'));
    try {
      await cp(DEFAULT_MIGRATIONS_DIR, dir, { recursive: true });
      await migrateDeploy({ databaseUrl: db.url, migrationsDir: dir });
      const first = path.join(dir, names[0]!, 'migration.sql');
      await writeFile(first, `${await readFile(first, 'utf8')}-- edited after deploy\n`);
      const edited = await migrationStatus({ databaseUrl: db.url, migrationsDir: dir });
      assert.deepEqual(edited.edited, [names[0]]);
      assert.equal(edited.upToDate, false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('serialises concurrent deploys from separate processes: one applies, the other finds nothing', async () => {
    const db = await freshDatabase();
    const run = () =>
      promisify(execFile)(process.execPath, [MIGRATE_CLI, 'deploy', '--quiet'], {
        env: { ...process.env, DATABASE_URL: db.url },
      });
    const outputs = (await Promise.all([run(), run()])).map((r) => r.stdout.trim()).sort();
    const names = await localMigrationNames();
    assert.deepEqual(outputs, [`applied: ${names.join(' ')}`, 'no pending migrations']);
    assert.equal((await query(db.url, 'SELECT 1 FROM "_prisma_migrations"')).length, names.length);
  });

  it('the SQL fallback runner writes rows the schema engine accepts as applied', async () => {
    const engineDb = await freshDatabase();
    const sqlDb = await freshDatabase();
    const names = await localMigrationNames();
    await migrateDeploy({ databaseUrl: engineDb.url });

    const viaSql = await migrateDeploy({ databaseUrl: sqlDb.url, runner: 'sql' });
    assert.deepEqual(viaSql.applied, names);
    assert.deepEqual((await migrateDeploy({ databaseUrl: sqlDb.url, runner: 'sql' })).applied, []);
    assert.deepEqual((await migrateDeploy({ databaseUrl: sqlDb.url })).applied, []);
    const status = await migrationStatus({ databaseUrl: sqlDb.url });
    assert.equal(status.upToDate, true, JSON.stringify(status));

    const columns = (url: string) =>
      query(
        url,
        `SELECT table_name, column_name, data_type, character_maximum_length, is_nullable, column_default
           FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name`,
      );
    assert.deepEqual(await columns(sqlDb.url), await columns(engineDb.url));
    const checksums = (url: string) =>
      query(url, 'SELECT migration_name, checksum, applied_steps_count FROM "_prisma_migrations" ORDER BY 1');
    assert.deepEqual(await checksums(sqlDb.url), await checksums(engineDb.url));
  });
});

describe('migrationDiff', () => {
  it('finds nothing between the migrations and schema.prisma (a schema change needs a migration)', async () => {
    const db = await createTestDatabase();
    try {
      const sql = await migrationDiff({ databaseUrl: db.url });
      // The one thing schema.prisma cannot say: the GiST (btree_gist) overlap index on xfs_rmap,
      // which the hop_state migration creates by hand.
      assert.equal(sql.trim(), '-- DropIndex\nDROP INDEX "xfs_rmap_overlap_idx";');
      const shadows = await query(
        db.url,
        "SELECT datname FROM pg_database WHERE datname LIKE 'prisma_migrate_shadow_db_%'",
      );
      assert.deepEqual(shadows, [], 'the shadow database is dropped');
    } finally {
      await db.drop();
    }
  });
});
