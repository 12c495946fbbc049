// Prisma 7 CLI configuration: the CLI no longer reads the database URL from schema.prisma.
// `prisma` is a dependency of libs/persistence (npm may install it there rather than at the
// root), so this file only imports a type and exports a plain object, which Prisma validates
// and passes through defineConfig itself.
//
// Offline (no native schema engine), use `node libs/persistence/bin/migrate.js deploy|status|diff`
// and `node libs/persistence/bin/generate.js`. With the engine available,
// `npm exec -w @mfsim/persistence -- prisma migrate deploy --config ../../prisma.config.ts`
// applies the same prisma/migrations.
import type { PrismaConfig } from 'prisma';

export default {
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/mfsim' },
} satisfies PrismaConfig;
