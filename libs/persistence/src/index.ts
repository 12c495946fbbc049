export * from './migrate';
export { listMigrations, migrationChecksum } from './migrations/migration-list';
export { DEFAULT_MIGRATIONS_DIR, DEFAULT_SCHEMA_PATH, REPO_ROOT } from './paths';
