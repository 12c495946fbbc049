import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';

import { createTestDatabase, type TestDatabase } from '@mfsim/testing';

import { migrateDeploy } from './migrate';
import { createPrismaClient, type PrismaClient, type PrismaTransaction } from './prisma-client';
import { ProcessedMessageRepository } from './processed-message.repository';

const TOPIC = 'dax.holder_notify_failure.v1';

describe('ProcessedMessageRepository.runOnce', () => {
  let db: TestDatabase;
  let prisma: PrismaClient;
  let repository: ProcessedMessageRepository;

  before(async () => {
    db = await createTestDatabase();
    await migrateDeploy({ databaseUrl: db.url });
    prisma = createPrismaClient({ databaseUrl: db.url });
    repository = new ProcessedMessageRepository(prisma);
  });
  after(async () => {
    await prisma?.$disconnect();
    await db?.drop();
  });
  beforeEach(async () => {
    await prisma.processedMessage.deleteMany();
    await prisma.serviceHeartbeat.deleteMany();
    await prisma.serviceHeartbeat.create({ data: { service: 'counter', version: '0', lastSeen: new Date() } });
  });

  // A handler's state change: bump a counter kept in service_heartbeat.version.
  const bump = async (tx: PrismaTransaction) => {
    const row = await tx.serviceHeartbeat.findUniqueOrThrow({ where: { service: 'counter' } });
    const next = String(Number(row.version) + 1);
    await tx.serviceHeartbeat.update({ where: { service: 'counter' }, data: { version: next } });
    return next;
  };
  const counter = async () =>
    (await prisma.serviceHeartbeat.findUniqueOrThrow({ where: { service: 'counter' } })).version;

  it('runs fn once; the redelivery is a duplicate and its writes do not happen again', async () => {
    const key = { consumer: 'xfs-fs', messageId: 'msg-1', topic: TOPIC };
    assert.deepEqual(await repository.runOnce(key, bump), { duplicate: false, result: '1' });

    let secondRan = false;
    const second = await repository.runOnce(key, async (tx) => {
      secondRan = true;
      return bump(tx);
    });
    assert.deepEqual(second, { duplicate: true });
    assert.equal(secondRan, false, 'the marker insert fails first, so fn never runs');
    assert.equal(await counter(), '1');
    assert.equal(await repository.isProcessed(key), true);

    const rows = await prisma.processedMessage.findMany();
    assert.equal(rows.length, 1);
    assert.deepEqual(
      { consumer: rows[0]!.consumer, messageId: rows[0]!.messageId, topic: rows[0]!.topic },
      key,
    );
  });

  it('keys on (consumer, messageId): another consumer processes the same message', async () => {
    await repository.runOnce({ consumer: 'xfs-fs', messageId: 'msg-2', topic: TOPIC }, bump);
    const other = await repository.runOnce({ consumer: 'mm-process', messageId: 'msg-2', topic: TOPIC }, bump);
    assert.deepEqual(other, { duplicate: false, result: '2' });
  });

  it('records nothing when fn throws, so the retried message runs again', async () => {
    const key = { consumer: 'xfs-fs', messageId: 'msg-3', topic: TOPIC };
    await assert.rejects(
      repository.runOnce(key, async (tx) => {
        await bump(tx);
        throw new Error('transient');
      }),
      /transient/,
    );
    assert.equal(await counter(), '0');
    assert.equal(await repository.isProcessed(key), false);
    assert.deepEqual(await repository.runOnce(key, bump), { duplicate: false, result: '1' });
  });

  it("does not mistake a unique violation in fn's own writes for a duplicate", async () => {
    await prisma.processedMessage.create({ data: { consumer: 'x', messageId: 'taken', topic: TOPIC } });
    const key = { consumer: 'xfs-fs', messageId: 'msg-4', topic: TOPIC };
    await assert.rejects(
      repository.runOnce(key, (tx) =>
        tx.processedMessage.create({ data: { consumer: 'x', messageId: 'taken', topic: TOPIC } }),
      ),
      (error: { code?: string }) => error.code === 'P2002',
    );
    assert.equal(await repository.isProcessed(key), false);
  });

  it('lets exactly one of two concurrent deliveries through', async () => {
    const key = { consumer: 'xfs-fs', messageId: 'msg-5', topic: TOPIC };
    const slowBump = async (tx: PrismaTransaction) => {
      const next = await bump(tx);
      await new Promise((resolve) => setTimeout(resolve, 200));
      return next;
    };
    const results = await Promise.all([repository.runOnce(key, slowBump), repository.runOnce(key, slowBump)]);
    assert.deepEqual(results.map((r) => r.duplicate).sort(), [false, true]);
    assert.equal(await counter(), '1');
  });
});
