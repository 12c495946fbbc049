export interface IdempotencyKey {
  /** consumer group that handles the message */
  consumer: string;
  /** envelope id */
  messageId: string;
  /** logical topic (without prefix) */
  topic: string;
}

/**
 * Runs a handler at most once per key. The implementation records the key in the same transaction
 * as the handler's state change and hands that transaction to `fn` as `tx` (the services back it
 * with `ProcessedMessageRepository` from @mfsim/persistence, where `tx` is the Prisma transaction
 * client), so a crash between the two cannot lose or double an effect. `duplicate: true` means
 * the key was already recorded and `fn` did not run.
 */
export interface IdempotencyStore<TTx = unknown> {
  runOnce<T>(key: IdempotencyKey, fn: (tx: TTx) => Promise<T>): Promise<{ duplicate: boolean; result?: T }>;
}
