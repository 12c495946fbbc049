#!/bin/sh
# One-shot migration step (service `migrate` in docker-compose.yml): apply every migration in
# prisma/migrations to $DATABASE_URL with `prisma migrate deploy`, then exit with its status.
#
# This is `npx prisma migrate deploy`, spelled out: `prisma` is a dependency of libs/persistence
# and npm nests it there, so a bare `npx prisma` at the root would not find it (and might
# download some other version). Look in the workspace first, then the root, like npm does.
# prisma.config.ts names the schema (prisma/schema.prisma) and the migrations folder.
set -eu
: "${DATABASE_URL:?DATABASE_URL must be set}"

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
for bin in libs/persistence/node_modules/.bin/prisma node_modules/.bin/prisma; do
  if [ -x "$bin" ]; then
    echo "migrate: prisma migrate deploy (prisma/migrations)"
    exec "$bin" migrate deploy --config "$root/prisma.config.ts"
  fi
done
echo "migrate: prisma CLI not found under libs/persistence or the root node_modules" >&2
exit 1
