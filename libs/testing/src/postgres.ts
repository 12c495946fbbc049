import { randomBytes } from 'node:crypto';

import { Client } from 'pg';

/** Admin URL for integration tests when MFSIM_TEST_DATABASE_URL is unset (conventions.md). */
const DEFAULT_ADMIN_URL = 'postgresql://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** URL of the new, empty database (same server and credentials as the admin URL). */
  url: string;
  /** Database name, `mfsim_test_<time>_<random>`. */
  name: string;
  /** Drops the database WITH (FORCE), closing any connection still open; safe to call twice. */
  drop(): Promise<void>;
}

/**
 * Creates a fresh, uniquely named database on the server of MFSIM_TEST_DATABASE_URL (an admin
 * URL whose role may CREATE DATABASE). Each test calls this and drops the database at the end:
 *
 *   const db = await createTestDatabase();
 *   after(() => db.drop());
 */
export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.MFSIM_TEST_DATABASE_URL?.trim() || DEFAULT_ADMIN_URL;
  const name = `mfsim_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await runAdminStatement(adminUrl, `CREATE DATABASE "${name}"`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  let dropped: Promise<void> | undefined;
  return {
    url: url.toString(),
    name,
    drop: () => (dropped ??= runAdminStatement(adminUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)),
  };
}

async function runAdminStatement(adminUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
