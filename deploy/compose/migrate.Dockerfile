# Image of the one-shot `migrate` step in docker-compose.yml: applies prisma/migrations to
# DATABASE_URL with Prisma's own `prisma migrate deploy`, then exits. Build context = repo root:
#   docker build -f deploy/compose/migrate.Dockerfile -t mfsim/migrate .

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: the same stage as every services/<name>/Dockerfile (shared layers) -----------------
FROM ${NODE_IMAGE} AS build
# openssl: Prisma picks its schema-engine build by the libssl it finds (used by `migrate` only).
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/*
ENV CI=true \
    NX_DAEMON=false \
    NX_NO_CLOUD=true \
    CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1 \
    npm_config_audit=false \
    npm_config_fund=false \
    npm_config_update_notifier=false
WORKDIR /app
COPY . .
# `npm ci` runs the root `prepare` (generate the Prisma client, then tsc -b); the explicit
# `npm run build` after it is incremental, and keeps the image built if `prepare` ever changes.
RUN npm ci \
 && npm run build \
 && npm prune --omit=dev --ignore-scripts

# Fetch the native schema engine NOW, as root and with the network, rather than on first use as
# an unprivileged user. Any Prisma command resolves it; --version needs no database.
RUN npm exec --workspace @mfsim/persistence --no -- prisma --version --config /app/prisma.config.ts

# ---- migrate ----------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS migrate
RUN apt-get update \
 && apt-get install -y --no-install-recommends openssl \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1 \
    npm_config_update_notifier=false
WORKDIR /app
COPY --from=build /app/package.json /app/prisma.config.ts ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/prisma ./prisma
COPY --from=build /app/libs/persistence ./libs/persistence
COPY --from=build /app/deploy/compose/migrate.sh ./deploy/compose/migrate.sh
USER node
CMD ["sh", "/app/deploy/compose/migrate.sh"]
