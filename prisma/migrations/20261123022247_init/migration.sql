-- CreateSchema
CREATE SCHEMA IF NOT EXISTS "public";

-- CreateTable
CREATE TABLE "processed_message" (
    "consumer" VARCHAR(255) NOT NULL,
    "message_id" VARCHAR(255) NOT NULL,
    "processed_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "topic" VARCHAR(255) NOT NULL,

    CONSTRAINT "processed_message_pkey" PRIMARY KEY ("consumer","message_id")
);

-- CreateTable
CREATE TABLE "service_heartbeat" (
    "last_seen" TIMESTAMPTZ(3) NOT NULL,
    "service" VARCHAR(64) NOT NULL,
    "version" VARCHAR(64) NOT NULL,

    CONSTRAINT "service_heartbeat_pkey" PRIMARY KEY ("service")
);

-- CreateIndex
CREATE INDEX "processed_message_processed_at_idx" ON "processed_message"("processed_at");
