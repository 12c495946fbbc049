#!/usr/bin/env node
'use strict';
// Offline Prisma Migrate for mfsim (no native schema engine needed; see libs/persistence/README.md).
//
//   node libs/persistence/bin/migrate.js deploy [--sql]   apply pending prisma/migrations (creates the database if missing)
//   node libs/persistence/bin/migrate.js status           applied / pending / failed / edited; exit 1 unless up to date
//   node libs/persistence/bin/migrate.js diff [--from-empty]
//                                                         print the SQL of the next migration: schema.prisma vs the migrations
//
// DATABASE_URL selects the database (default postgresql://postgres@127.0.0.1:5432/mfsim).
// `diff` replays the migrations in a temporary shadow database created on the same server (it
// connects to its `postgres` database; the role needs CREATEDB). MFSIM_DEBUG=1 prints stacks.
// Options: --migrations-dir <dir>, --schema <file>, --quiet. Build first: npx tsc -b libs/persistence.

const path = require('node:path');

const USAGE = 'usage: migrate.js deploy [--sql] | status | diff [--from-empty]  [--migrations-dir <dir>] [--schema <file>] [--quiet]';

function parseArgs(argv) {
  const args = { command: argv[0], flags: new Set(), migrationsDir: undefined, schemaPath: undefined };
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--migrations-dir') args.migrationsDir = path.resolve(argv[++i]);
    else if (arg === '--schema') args.schemaPath = path.resolve(argv[++i]);
    else if (arg === '--sql' || arg === '--from-empty' || arg === '--quiet') args.flags.add(arg);
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const persistence = require('../dist/index.js');
  const databaseUrl = process.env.DATABASE_URL || 'postgresql://postgres@127.0.0.1:5432/mfsim';
  const log = args.flags.has('--quiet') ? undefined : (message) => process.stderr.write(`${message}\n`);
  const common = { databaseUrl, migrationsDir: args.migrationsDir, schemaPath: args.schemaPath, log };
  switch (args.command) {
    case 'deploy': {
      const { applied } = await persistence.migrateDeploy({
        ...common,
        runner: args.flags.has('--sql') ? 'sql' : 'schema-engine',
        ensureDatabase: true,
      });
      process.stdout.write(applied.length ? `applied: ${applied.join(' ')}\n` : 'no pending migrations\n');
      return 0;
    }
    case 'status': {
      const status = await persistence.migrationStatus(common);
      process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
      return status.upToDate ? 0 : 1;
    }
    case 'diff': {
      // diff never reads the mfsim database itself: connect to the server's maintenance database,
      // which exists even before the first deploy, and create the shadow database from there.
      const url = new URL(databaseUrl);
      url.pathname = '/postgres';
      const from = args.flags.has('--from-empty') ? 'empty' : 'migrations';
      const sql = await persistence.migrationDiff({ ...common, databaseUrl: url.toString(), from });
      process.stdout.write(sql.endsWith('\n') ? sql : `${sql}\n`);
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    const detail = process.env.MFSIM_DEBUG ? error && error.stack : error && error.message;
    process.stderr.write(`migrate.js: ${detail || error}\n`);
    process.exitCode = 1;
  },
);
