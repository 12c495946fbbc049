import { randomUUID } from 'node:crypto';

import { Producer } from 'kafkajs';

import { Contracts, DataOf, EnvelopeOf, Topic, topicName } from '@mfsim/contracts';

import { derivedMessageId } from './message-id';

/** Where a message comes from: the envelope that caused it, or a fresh failure at the edge. */
export type Cause = { id: string; failureId: string } | { id: null; failureId: string };

export interface PublishRequest<T extends Topic> {
  topic: T;
  /** dax device id (dm device id above dm), so failures on one device stay in order */
  key: string;
  data: DataOf<T>;
  causedBy: Cause;
  /**
   * Tells apart several messages one cause sends to the same topic (e.g. one per file range), so
   * each keeps a stable id of its own; see `derivedMessageId`.
   */
  discriminator?: string;
  /**
   * Kafka headers to send with the message. The CLI sets `traceparent` on a root call so the
   * incident's trace has the incident's id; in a service the kafkajs instrumentation writes the
   * active trace context over it.
   */
  headers?: Readonly<Record<string, string>>;
}

export interface EnvelopePublisherOptions {
  producer: Producer;
  topicPrefix: string;
  /** service name written to `source` */
  source: string;
  now?: () => Date;
  /** id of a message with no cause (a failure entering the stack) */
  newId?: () => string;
}

/** Raised when a service tries to publish data its own contract rejects: a bug, not a fault. */
export class ContractViolationError extends Error {
  override readonly name = 'ContractViolationError';
}

/**
 * Wraps payloads in the envelope and sends them keyed. Trace context is not added here: the
 * kafkajs instrumentation injects `traceparent` into the message headers when telemetry is on.
 */
export class EnvelopePublisher {
  private readonly now: () => Date;
  private readonly newId: () => string;

  constructor(private readonly options: EnvelopePublisherOptions) {
    this.now = options.now ?? (() => new Date());
    this.newId = options.newId ?? randomUUID;
  }

  async publish<T extends Topic>({ topic, key, data, causedBy, discriminator, headers }: PublishRequest<T>): Promise<EnvelopeOf<T>> {
    const contract = Contracts[topic];
    const parsed = contract.envelope.safeParse({
      id: causedBy.id === null ? this.newId() : derivedMessageId(causedBy.id, topic, discriminator),
      type: contract.type,
      version: contract.version,
      failureId: causedBy.failureId,
      causationId: causedBy.id,
      occurredAt: this.now().toISOString(),
      source: this.options.source,
      data,
    });
    if (!parsed.success) {
      throw new ContractViolationError(`${topic}: ${parsed.error.issues.map((issue) => issue.message).join('; ')}`);
    }
    const envelope = parsed.data as EnvelopeOf<T>;
    await this.options.producer.send({
      topic: topicName(this.options.topicPrefix, topic),
      messages: [{ key, value: JSON.stringify(envelope), ...(headers ? { headers: { ...headers } } : {}) }],
    });
    return envelope;
  }
}
