import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { createTestDatabase, type TestDatabase } from '@mfsim/testing';

import { pingPostgres } from './health';
import { migrateDeploy } from './migrate';
import { createPrismaClient, type PrismaClient } from './prisma-client';

describe('createPrismaClient (adapter-pg) on the migrated schema', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;

  before(async () => {
    db = await createTestDatabase();
    await migrateDeploy({ databaseUrl: db.url });
    prisma = createPrismaClient({ databaseUrl: db.url });
  });
  after(async () => {
    await prisma?.$disconnect();
    await db?.drop();
  });

  it('writes and reads a service heartbeat', async () => {
    const lastSeen = new Date('2026-11-23T01:02:03.456Z');
    await prisma.serviceHeartbeat.upsert({
      where: { service: 'pmem-driver' },
      create: { service: 'pmem-driver', version: '0.1.0', lastSeen },
      update: { lastSeen, version: '0.1.0' },
    });
    const later = new Date(lastSeen.getTime() + 1000);
    await prisma.serviceHeartbeat.update({ where: { service: 'pmem-driver' }, data: { lastSeen: later } });

    const row = await prisma.serviceHeartbeat.findUniqueOrThrow({ where: { service: 'pmem-driver' } });
    assert.deepEqual(row, { service: 'pmem-driver', version: '0.1.0', lastSeen: later });
    assert.equal(await prisma.serviceHeartbeat.count(), 1);
  });

  it('fills processed_at by default, in milliseconds', async () => {
    const row = await prisma.processedMessage.create({
      data: { consumer: 'xfs-fs', messageId: 'm-1', topic: 'xfs.dax_notify_failure.v1' },
    });
    assert.ok(Math.abs(row.processedAt.getTime() - Date.now()) < 60_000);
  });

  it('pingPostgres is up on a live database', async () => {
    assert.deepEqual(await pingPostgres(prisma), { status: 'up' });
  });

  it('pingPostgres reports down, without throwing, when the server or database is missing', async () => {
    const url = new URL(db.url);
    url.port = '1';
    const noServer = createPrismaClient({ databaseUrl: url.toString() });
    const noDatabase = createPrismaClient({ databaseUrl: `${db.url}_missing` });
    try {
      const [server, database] = await Promise.all([pingPostgres(noServer), pingPostgres(noDatabase)]);
      assert.equal(server.status, 'down');
      assert.match(server.status === 'down' ? server.error : '', /reach database server|ECONNREFUSED/);
      assert.equal(database.status, 'down');
      assert.match(database.status === 'down' ? database.error : '', /does not exist/);
    } finally {
      await Promise.all([noServer.$disconnect(), noDatabase.$disconnect()]);
    }
  });
});
