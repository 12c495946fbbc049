export * from './health';
export * from './migrate';
export { listMigrations, migrationChecksum } from './migrations/migration-list';
export { DEFAULT_MIGRATIONS_DIR, DEFAULT_SCHEMA_PATH, REPO_ROOT } from './paths';
export * from './prisma-client';
export * from './processed-message.repository';
export * from './redis';
