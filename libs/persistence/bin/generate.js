#!/usr/bin/env node
'use strict';
// Generates the Prisma client (prisma/schema.prisma -> libs/persistence/src/generated/prisma), offline.
//
//   node libs/persistence/bin/generate.js [--force]
//
// Runs before `tsc -b` (root `prepare`/`build`), since libs/persistence compiles the generated
// TypeScript. Skips when schema.prisma and the prisma version are unchanged since the last run
// (stamp file src/generated/.stamp), so the generated files keep their mtimes and tsc -b stays
// incremental. `prisma generate` needs no schema engine, but the CLI tries to download one at
// start-up unless PRISMA_SCHEMA_ENGINE_BINARY points at an existing file: we point it at this
// node binary when unset.

const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const schemaPath = path.join(repoRoot, 'prisma', 'schema.prisma');
const configPath = path.join(repoRoot, 'prisma.config.ts');
const generatedDir = path.join(__dirname, '..', 'src', 'generated');
const stampPath = path.join(generatedDir, '.stamp');
const clientEntry = path.join(generatedDir, 'prisma', 'client.ts');

const prismaPackage = require.resolve('prisma/package.json', { paths: [path.join(__dirname, '..')] });
const prismaCli = path.join(path.dirname(prismaPackage), 'build', 'index.js');
const prismaVersion = JSON.parse(fs.readFileSync(prismaPackage, 'utf8')).version;

const stamp = createHash('sha256')
  .update(`prisma ${prismaVersion}\n`)
  .update(fs.readFileSync(schemaPath))
  .update(fs.readFileSync(configPath))
  .digest('hex');

const force = process.argv.includes('--force');
const current = fs.existsSync(stampPath) ? fs.readFileSync(stampPath, 'utf8').trim() : '';
if (!force && current === stamp && fs.existsSync(clientEntry)) {
  process.stdout.write(`prisma client up to date (prisma ${prismaVersion})\n`);
  process.exit(0);
}

const env = {
  ...process.env,
  PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath,
  CHECKPOINT_DISABLE: '1',
  PRISMA_HIDE_UPDATE_MESSAGE: '1',
};
fs.rmSync(path.join(generatedDir, 'prisma'), { recursive: true, force: true });
execFileSync(process.execPath, [prismaCli, 'generate', '--config', configPath], {
  cwd: repoRoot,
  env,
  stdio: 'inherit',
});
fs.writeFileSync(stampPath, `${stamp}\n`);
