import { createHash } from 'node:crypto';

/** Namespace of mfsim's name-based envelope ids (a fixed random uuid). */
const MFSIM_NAMESPACE = '7c1d3f4e-9a2b-4c5d-8e6f-0a1b2c3d4e5f';

/**
 * The id of a message caused by another one: a UUID v5 (RFC 9562) of the cause's id, the target
 * topic and a discriminator. A handler that is redelivered after it published (its transaction
 * failed to commit) publishes the same ids again, so the next consumer skips the repeats.
 */
export function derivedMessageId(causationId: string, topic: string, discriminator = ''): string {
  const namespace = Buffer.from(MFSIM_NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1')
    .update(namespace)
    .update(`${causationId}\n${topic}\n${discriminator}`, 'utf8')
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
