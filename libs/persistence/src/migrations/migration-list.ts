import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import * as path from 'node:path';

import type { MigrationList } from '@prisma/schema-engine-wasm/schema_engine_bg' with {
  'resolution-mode': 'import',
};

export const MIGRATION_LOCK_FILE = 'migration_lock.toml';
export const MIGRATION_SCRIPT_FILE = 'migration.sql';

/**
 * Reads a migrations directory the way the Prisma 7 CLI does before it calls the schema engine
 * (prisma/build/cli.js, `listMigrations`): every sub-directory is a migration named after the
 * directory, its `migration.sql` is read as UTF-8 (a read error is passed on, not thrown), and
 * the list is sorted with `localeCompare`. A missing directory yields an empty list.
 */
export async function listMigrations(
  migrationsDir: string,
  shadowDbInitScript = '',
): Promise<MigrationList> {
  const baseDir = path.resolve(migrationsDir);
  const lockContent = await readFile(path.join(baseDir, MIGRATION_LOCK_FILE), 'utf8').catch(
    () => null,
  );
  const entries = await readdir(baseDir, { withFileTypes: true }).catch(() => []);
  const migrationDirectories: MigrationList['migrationDirectories'] = [];
  for (const entry of entries.filter((e) => e.isDirectory())) {
    const content = await readFile(path.join(baseDir, entry.name, MIGRATION_SCRIPT_FILE), 'utf8')
      .then((value) => ({ tag: 'ok' as const, value }))
      .catch((error: Error) => ({ tag: 'error' as const, value: error.message }));
    migrationDirectories.push({
      path: entry.name,
      migrationFile: { path: MIGRATION_SCRIPT_FILE, content },
    });
  }
  migrationDirectories.sort((a, b) => a.path.localeCompare(b.path));
  return {
    baseDir,
    lockfile: { path: MIGRATION_LOCK_FILE, content: lockContent },
    migrationDirectories,
    shadowDbInitScript,
  };
}

/**
 * The checksum Prisma stores in `_prisma_migrations.checksum`: lowercase hex SHA-256 of the
 * migration script. Keep migration.sql LF-only (prisma/.gitattributes), or a CRLF checkout
 * would hash differently and show up as an edited migration.
 */
export function migrationChecksum(script: string | Buffer): string {
  return createHash('sha256').update(script).digest('hex');
}
