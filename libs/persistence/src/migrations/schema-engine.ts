import { readFile } from 'node:fs/promises';
import * as path from 'node:path';

import { PrismaPg } from '@prisma/adapter-pg';
import {
  bindMigrationAwareSqlAdapterFactory,
  type SqlDriverAdapter,
  type SqlMigrationAwareDriverAdapterFactory,
} from '@prisma/driver-adapter-utils';
import type * as SchemaEngineBg from '@prisma/schema-engine-wasm/schema_engine_bg' with {
  'resolution-mode': 'import',
};
import { Client } from 'pg';

export type SchemaEngine = SchemaEngineBg.SchemaEngine;
type SchemaEngineModule = typeof SchemaEngineBg;

export interface SchemaEngineOptions {
  databaseUrl: string;
  /** Prisma schema to load as the engine's datamodel; omit when only migrations matter. */
  schema?: { path: string; content: string } | undefined;
  /** Receives the engine's log messages (INFO and above) as plain text. */
  log?: ((message: string) => void) | undefined;
}

/** The filter `prisma.config.ts` would give (`tables.external`, `enums.external`): none. */
export const NO_EXTERNAL_ENTITIES = { externalTables: [], externalEnums: [] };

// The repo compiles without lib.dom, which is where TypeScript declares WebAssembly.
declare const WebAssembly: {
  compile(bytes: Uint8Array): Promise<object>;
  instantiate(module: object, imports: object): Promise<{ exports: object }>;
};

let modulePromise: Promise<SchemaEngineModule> | undefined;

/**
 * Loads @prisma/schema-engine-wasm once per process.
 *
 * The package is ESM and its entry does `import './schema_engine_bg.wasm'`, which Node does not
 * load without a flag, so the wasm-bindgen glue is imported and the module instantiated by hand
 * (what Prisma 6's `wasmSchemaEngineLoader` did). The glue keeps the instance in a module-level
 * variable, so instantiating twice would swap the memory under a live engine: hence the cache.
 * This is an internal, undocumented API; the package version is pinned to the engine hash of
 * the pinned `prisma`/`@prisma/client` and covered by migrate.int-spec.ts.
 */
export function loadSchemaEngineModule(): Promise<SchemaEngineModule> {
  modulePromise ??= instantiateSchemaEngine().catch((error: unknown) => {
    modulePromise = undefined;
    throw error;
  });
  return modulePromise;
}

async function instantiateSchemaEngine(): Promise<SchemaEngineModule> {
  const gluePath = require.resolve('@prisma/schema-engine-wasm/schema_engine_bg');
  const glue = (await import('@prisma/schema-engine-wasm/schema_engine_bg')) as SchemaEngineModule;
  const bytes = await readFile(path.join(path.dirname(gluePath), 'schema_engine_bg.wasm'));
  const wasmModule = await WebAssembly.compile(bytes);
  const instance = await WebAssembly.instantiate(wasmModule, {
    './schema_engine_bg.js': withUnrefTimers(glue),
  });
  const exports = instance.exports as Record<string, unknown> & { __wbindgen_start?: () => void };
  glue.__wbg_set_wasm(exports);
  exports.__wbindgen_start?.();
  return glue;
}

/**
 * The engine arms a JS timer for each timeout it races (e.g. its 10 s advisory-lock timeout) and
 * never clears it, which kept a finished CLI alive for 10 s. Hand it unref'd timers instead:
 * pending database I/O still keeps the process alive while the engine waits.
 */
function withUnrefTimers(glue: SchemaEngineModule): Record<string, unknown> {
  const imports: Record<string, unknown> = { ...glue };
  for (const name of Object.keys(imports)) {
    if (name.startsWith('__wbg_setTimeout_')) {
      imports[name] = (callback: () => void, ms: number) => setTimeout(callback, ms >>> 0).unref();
    }
  }
  return imports;
}

/**
 * Runs `fn` with a schema engine bound to PostgreSQL through @prisma/adapter-pg, then frees the
 * engine and closes every pool the engine opened (the engine does not dispose its adapters).
 *
 * The shadow database, needed only to diff from the migrations directory, is created and dropped
 * here rather than by PrismaPg.connectToShadowDb: that one spreads `{ connectionString, database }`
 * into a pg pool config, and pg lets the connection string win, so the "shadow" pool would connect
 * to the main database.
 */
export async function withSchemaEngine<T>(
  options: SchemaEngineOptions,
  fn: (engine: SchemaEngine) => Promise<T>,
): Promise<T> {
  const glue = await loadSchemaEngineModule();
  const adapters: SqlDriverAdapter[] = [];
  const factory = trackingAdapterFactory(options.databaseUrl, adapters);
  const datamodels: [string, string][] | undefined = options.schema
    ? [[options.schema.path, options.schema.content]]
    : undefined;
  let engine: SchemaEngine | undefined;
  try {
    // new() already connects: a missing database fails here.
    engine = await glue.SchemaEngine.new(
      { datamodels },
      (line: string) => forwardEngineLog(line, options.log),
      bindMigrationAwareSqlAdapterFactory(factory),
    );
    return await fn(engine);
  } finally {
    engine?.free();
    await Promise.allSettled(adapters.map((adapter) => adapter.dispose()));
  }
}

function trackingAdapterFactory(
  databaseUrl: string,
  adapters: SqlDriverAdapter[],
): SqlMigrationAwareDriverAdapterFactory {
  const main = new PrismaPg({ connectionString: databaseUrl, max: 2 });
  return {
    provider: main.provider,
    adapterName: main.adapterName,
    async connect() {
      return track(await main.connect(), adapters);
    },
    async connectToShadowDb() {
      return track(await connectShadowDatabase(databaseUrl), adapters);
    },
  };
}

/** Makes dispose() idempotent (the engine may dispose an adapter itself) and remembers it. */
function track(adapter: SqlDriverAdapter, adapters: SqlDriverAdapter[]): SqlDriverAdapter {
  const dispose = adapter.dispose.bind(adapter);
  let disposed: Promise<void> | undefined;
  adapter.dispose = () => (disposed ??= dispose());
  adapters.push(adapter);
  readCharColumnsAsText(adapter);
  return adapter;
}

const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

interface PgQueryableInternals {
  performIO?: (query: unknown) => Promise<{ fields: { dataTypeID: number }[] }>;
  startTransaction?: (...args: unknown[]) => Promise<unknown>;
}

/**
 * The engine describes a schema (diff from migrations, via the shadow database) with catalog
 * queries returning PostgreSQL's one-byte `"char"` type (pg_class.relkind and the like), which
 * @prisma/adapter-pg rejects ("Column type 'char' could not be deserialized"). pg already parses
 * those values as strings, so re-label the column as text before the adapter maps it. This
 * patches adapter-pg internals (PgQueryable.performIO); if they change, only migrationDiff
 * breaks, and migrate.int-spec.ts says so.
 */
function readCharColumnsAsText(queryable: unknown): void {
  const internals = queryable as PgQueryableInternals;
  const performIO = internals.performIO?.bind(internals);
  if (performIO) {
    internals.performIO = async (query) => {
      const result = await performIO(query);
      for (const field of result.fields) {
        if (field.dataTypeID === PG_CHAR_OID) field.dataTypeID = PG_TEXT_OID;
      }
      return result;
    };
  }
  const startTransaction = internals.startTransaction?.bind(internals);
  if (startTransaction) {
    internals.startTransaction = async (...args) => {
      const transaction = await startTransaction(...args);
      readCharColumnsAsText(transaction);
      return transaction;
    };
  }
}

async function connectShadowDatabase(databaseUrl: string): Promise<SqlDriverAdapter> {
  const name = `prisma_migrate_shadow_db_${crypto.randomUUID().replaceAll('-', '')}`;
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  await runAdminStatement(databaseUrl, `CREATE DATABASE "${name}"`);
  const adapter = await new PrismaPg({ connectionString: url.toString(), max: 2 }).connect();
  const dispose = adapter.dispose.bind(adapter);
  adapter.dispose = async () => {
    await dispose();
    await runAdminStatement(databaseUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  };
  return adapter;
}

async function runAdminStatement(databaseUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function forwardEngineLog(line: string, log: ((message: string) => void) | undefined): void {
  if (!log) return;
  try {
    const record = JSON.parse(line) as { level?: string; fields?: { message?: string } };
    if (record.level === 'DEBUG' || record.level === 'TRACE') return;
    log(`schema-engine ${record.level ?? 'INFO'}: ${record.fields?.message ?? line.trim()}`);
  } catch {
    log(`schema-engine: ${line.trim()}`);
  }
}
