import * as path from 'node:path';

/**
 * Locations inside the checkout. Compiled code lives in libs/persistence/dist, so the repository
 * root is three levels up; services and tools reach the schema and migrations through these.
 */
export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const DEFAULT_SCHEMA_PATH = path.join(REPO_ROOT, 'prisma', 'schema.prisma');
export const DEFAULT_MIGRATIONS_DIR = path.join(REPO_ROOT, 'prisma', 'migrations');
