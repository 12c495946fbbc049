-- The distributed mode: each PostgreSQL service's state (entities), its call records, and
-- xfs-fs's reverse map. Every row carries the run it belongs to, so runs never see each other.
CREATE EXTENSION IF NOT EXISTS btree_gist;

-- CreateTable
CREATE TABLE "pmem_run" (
    "run_id" VARCHAR(64) NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pmem_run_pkey" PRIMARY KEY ("run_id")
);

-- CreateTable
CREATE TABLE "pmem_entity" (
    "run_id" VARCHAR(64) NOT NULL,
    "key" VARCHAR(512) NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "pmem_entity_pkey" PRIMARY KEY ("run_id","key")
);

-- CreateTable
CREATE TABLE "pmem_call" (
    "run_id" VARCHAR(64) NOT NULL,
    "id" VARCHAR(2048) NOT NULL,
    "chain" VARCHAR(2048) NOT NULL,
    "incident" VARCHAR(64) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "record" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "pmem_call_pkey" PRIMARY KEY ("run_id","id")
);

-- CreateIndex
CREATE INDEX "pmem_call_chain_idx" ON "pmem_call"("run_id", "chain");

-- CreateIndex
CREATE INDEX "pmem_call_incident_idx" ON "pmem_call"("incident");

-- CreateTable
CREATE TABLE "dax_run" (
    "run_id" VARCHAR(64) NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dax_run_pkey" PRIMARY KEY ("run_id")
);

-- CreateTable
CREATE TABLE "dax_entity" (
    "run_id" VARCHAR(64) NOT NULL,
    "key" VARCHAR(512) NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "dax_entity_pkey" PRIMARY KEY ("run_id","key")
);

-- CreateTable
CREATE TABLE "dax_call" (
    "run_id" VARCHAR(64) NOT NULL,
    "id" VARCHAR(2048) NOT NULL,
    "chain" VARCHAR(2048) NOT NULL,
    "incident" VARCHAR(64) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "record" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dax_call_pkey" PRIMARY KEY ("run_id","id")
);

-- CreateIndex
CREATE INDEX "dax_call_chain_idx" ON "dax_call"("run_id", "chain");

-- CreateIndex
CREATE INDEX "dax_call_incident_idx" ON "dax_call"("incident");

-- CreateTable
CREATE TABLE "dm_run" (
    "run_id" VARCHAR(64) NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dm_run_pkey" PRIMARY KEY ("run_id")
);

-- CreateTable
CREATE TABLE "dm_entity" (
    "run_id" VARCHAR(64) NOT NULL,
    "key" VARCHAR(512) NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "dm_entity_pkey" PRIMARY KEY ("run_id","key")
);

-- CreateTable
CREATE TABLE "dm_call" (
    "run_id" VARCHAR(64) NOT NULL,
    "id" VARCHAR(2048) NOT NULL,
    "chain" VARCHAR(2048) NOT NULL,
    "incident" VARCHAR(64) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "record" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "dm_call_pkey" PRIMARY KEY ("run_id","id")
);

-- CreateIndex
CREATE INDEX "dm_call_chain_idx" ON "dm_call"("run_id", "chain");

-- CreateIndex
CREATE INDEX "dm_call_incident_idx" ON "dm_call"("incident");

-- CreateTable
CREATE TABLE "xfs_run" (
    "run_id" VARCHAR(64) NOT NULL,
    "version" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "xfs_run_pkey" PRIMARY KEY ("run_id")
);

-- CreateTable
CREATE TABLE "xfs_entity" (
    "run_id" VARCHAR(64) NOT NULL,
    "key" VARCHAR(512) NOT NULL,
    "value" TEXT NOT NULL,

    CONSTRAINT "xfs_entity_pkey" PRIMARY KEY ("run_id","key")
);

-- CreateTable
CREATE TABLE "xfs_call" (
    "run_id" VARCHAR(64) NOT NULL,
    "id" VARCHAR(2048) NOT NULL,
    "chain" VARCHAR(2048) NOT NULL,
    "incident" VARCHAR(64) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "record" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "xfs_call_pkey" PRIMARY KEY ("run_id","id")
);

-- CreateIndex
CREATE INDEX "xfs_call_chain_idx" ON "xfs_call"("run_id", "chain");

-- CreateIndex
CREATE INDEX "xfs_call_incident_idx" ON "xfs_call"("incident");

-- CreateTable
CREATE TABLE "mm_call" (
    "run_id" VARCHAR(64) NOT NULL,
    "id" VARCHAR(2048) NOT NULL,
    "chain" VARCHAR(2048) NOT NULL,
    "incident" VARCHAR(64) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "record" TEXT NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "mm_call_pkey" PRIMARY KEY ("run_id","id")
);

-- CreateIndex
CREATE INDEX "mm_call_incident_idx" ON "mm_call"("incident");

-- CreateTable
CREATE TABLE "incident" (
    "id" VARCHAR(64) NOT NULL,
    "run_id" VARCHAR(64) NOT NULL,
    "op" VARCHAR(64) NOT NULL,
    "args" TEXT NOT NULL,
    "service" VARCHAR(16) NOT NULL,
    "status" VARCHAR(16) NOT NULL,
    "result" TEXT,
    "started_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "finished_at" TIMESTAMPTZ(3),

    CONSTRAINT "incident_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "incident_run_idx" ON "incident"("run_id", "started_at");

-- CreateTable
CREATE TABLE "xfs_rmap" (
    "run_id" VARCHAR(64) NOT NULL,
    "fs" VARCHAR(64) NOT NULL,
    "agno" BIGINT NOT NULL,
    "startblock" BIGINT NOT NULL,
    "blockcount" BIGINT NOT NULL,
    "owner" NUMERIC(20,0) NOT NULL,
    "file_offset" BIGINT NOT NULL,
    "flags" INTEGER NOT NULL,
    "blocks" INT8RANGE NOT NULL
);

-- An overlapping-range query of one AG's rmap ("records of AG g overlapping [low, high]") is a
-- GiST index scan: O(log n + records found) whatever the record lengths, like the rmapbt's
-- overlapped query that prunes on high keys.
CREATE INDEX "xfs_rmap_overlap_idx" ON "xfs_rmap" USING gist ("run_id", "fs", "agno", "blocks");
