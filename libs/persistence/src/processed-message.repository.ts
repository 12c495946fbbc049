import { Prisma, type PrismaClient } from './generated/prisma/client';
import type { PrismaTransaction } from './prisma-client';

export interface ProcessedMessageKey {
  /** Kafka consumer group (or handler name): the same message may be processed once per consumer. */
  consumer: string;
  /** Envelope id of the message. */
  messageId: string;
  topic: string;
}

export type RunOnceResult<T> = { duplicate: false; result: T } | { duplicate: true; result?: undefined };

export interface ProcessedMessageRepositoryOptions {
  /** Interactive transaction timeout; default 10000 ms (Prisma's default is 5000). */
  timeoutMs?: number;
  /** How long to wait for a pool connection to start the transaction; default 5000 ms. */
  maxWaitMs?: number;
}

/**
 * The idempotency record of Kafka handlers (STYLE.md: processed_message is the source of truth).
 */
export class ProcessedMessageRepository {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly options: ProcessedMessageRepositoryOptions = {},
  ) {}

  /**
   * Runs `fn` once per (consumer, messageId). The processed_message row is inserted first, in the
   * same transaction as fn's writes: a redelivery hits the primary key (P2002), the transaction
   * rolls back and `{ duplicate: true }` is returned without fn's writes happening again. A
   * concurrent redelivery blocks on the uncommitted row and then reports the duplicate. If fn
   * throws, nothing is recorded and the error propagates (the message will be retried).
   *
   * Only database writes made through `tx` are covered; fn must not publish or call out (do that
   * after runOnce resolves with duplicate false).
   */
  async runOnce<T>(
    key: ProcessedMessageKey,
    fn: (tx: PrismaTransaction) => Promise<T>,
  ): Promise<RunOnceResult<T>> {
    let markerRejected = false;
    try {
      const result = await this.prisma.$transaction(
        async (tx) => {
          try {
            await tx.processedMessage.create({
              data: { consumer: key.consumer, messageId: key.messageId, topic: key.topic },
            });
          } catch (error) {
            markerRejected = true;
            throw error;
          }
          return fn(tx);
        },
        { timeout: this.options.timeoutMs ?? 10_000, maxWait: this.options.maxWaitMs ?? 5000 },
      );
      return { duplicate: false, result };
    } catch (error) {
      // Only the marker insert's own unique violation means "seen before"; a P2002 raised by
      // fn's writes is fn's error.
      if (markerRejected && isUniqueViolation(error)) return { duplicate: true };
      throw error;
    }
  }

  /** Whether (consumer, messageId) has been processed (committed). */
  async isProcessed(key: Pick<ProcessedMessageKey, 'consumer' | 'messageId'>): Promise<boolean> {
    const row = await this.prisma.processedMessage.findUnique({
      where: { consumer_messageId: { consumer: key.consumer, messageId: key.messageId } },
      select: { processedAt: true },
    });
    return row !== null;
  }
}

/** Prisma's P2002 "Unique constraint failed", as raised through @prisma/adapter-pg. */
export function isUniqueViolation(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002';
}
