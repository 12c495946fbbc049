import { KafkaMessage } from 'kafkajs';

import { EnvelopeOf, parseEnvelope, Topic, topicName } from '@mfsim/contracts';

import { DeadLetter, deadLetterFor } from './dead-letter';
import { IdempotencyStore } from './idempotency';
import { errorMessage, MessagingLogger } from './logger';

export interface MessageContext<TTx = unknown> {
  topic: Topic;
  partition: number;
  offset: string;
  /** Kafka key, decoded as UTF-8 */
  key: string | null;
  /** consumer group handling the message */
  consumer: string;
  /** the idempotency store's transaction: state written through it commits with the processed mark */
  tx: TTx;
}

export type TopicHandler<T extends Topic, TTx = unknown> = (
  envelope: EnvelopeOf<T>,
  context: MessageContext<TTx>,
) => Promise<void>;
export type TopicHandlers<TTx = unknown> = { [T in Topic]?: TopicHandler<T, TTx> };

export type ProcessOutcome = 'handled' | 'duplicate' | 'dead_lettered';

/** Why a message went to its dead-letter topic, as a small fixed set (a metric label). */
export type DeadLetterKind = 'empty' | 'json' | 'unknown_version' | 'schema';

/**
 * Told what happens to each consumed message (the services count it in their metrics). Called
 * after the outcome is settled; it must be cheap and must not throw.
 */
export interface MessagingObserver {
  /** A message was handled, skipped as a duplicate or dead-lettered (logical topic). */
  consumed(topic: Topic, outcome: ProcessOutcome): void;
  /** A message that does not parse went to `<topic>.dlq`. */
  deadLettered(topic: Topic, kind: DeadLetterKind): void;
  /** After each fetched batch: how far the group is behind on one partition (kafkajs offsetLag). */
  lag?(topic: Topic, partition: number, lag: number): void;
}

/** The kind of a dead-letter reason as `decode` words it. */
export function deadLetterKind(reason: string): DeadLetterKind {
  if (reason.startsWith('empty')) return 'empty';
  if (reason.startsWith('json:')) return 'json';
  if (reason.startsWith('unknown version')) return 'unknown_version';
  return 'schema';
}

export interface MessageProcessorOptions<TTx = unknown> {
  /** consumer group, already prefixed; also the idempotency `consumer` */
  groupId: string;
  topicPrefix: string;
  handlers: TopicHandlers<TTx>;
  idempotency: IdempotencyStore<TTx>;
  sendDeadLetter: (deadLetter: DeadLetter) => Promise<void>;
  logger: MessagingLogger;
  observer?: MessagingObserver;
}

/**
 * What happens to one consumed message: parse the envelope and payload, dead-letter what does not
 * parse, and run the topic's handler once per envelope id.
 *
 * A parse failure is not retried: the bytes will not change, so the message goes to
 * `<topic>.dlq` and its offset is committed. Anything the handler throws is treated as a transient
 * infrastructure fault and rethrown, so kafkajs does not commit the offset and redelivers with
 * backoff; domain errors are results that handlers publish, never throws.
 */
export class MessageProcessor<TTx = unknown> {
  private readonly topicsByName: Map<string, Topic>;

  constructor(private readonly options: MessageProcessorOptions<TTx>) {
    this.topicsByName = new Map(
      this.subscribedTopics().map((topic) => [topicName(options.topicPrefix, topic), topic] as const),
    );
  }

  /** The logical topic of a subscribed physical topic name (undefined for any other). */
  logicalTopic(physicalTopic: string): Topic | undefined {
    return this.topicsByName.get(physicalTopic);
  }

  subscribedTopics(): Topic[] {
    return Object.keys(this.options.handlers) as Topic[];
  }

  async process(physicalTopic: string, partition: number, message: KafkaMessage): Promise<ProcessOutcome> {
    const topic = this.topicsByName.get(physicalTopic);
    if (topic === undefined) {
      throw new Error(`no handler for topic ${physicalTopic}`);
    }
    const parsed = decode(topic, message.value);
    if (!parsed.ok) {
      await this.deadLetter(topic, partition, message, parsed.reason);
      this.options.observer?.deadLettered(topic, deadLetterKind(parsed.reason));
      this.options.observer?.consumed(topic, 'dead_lettered');
      return 'dead_lettered';
    }
    const context: Omit<MessageContext<TTx>, 'tx'> = {
      topic,
      partition,
      offset: message.offset,
      key: message.key?.toString('utf8') ?? null,
      consumer: this.options.groupId,
    };
    const outcome = await this.runHandler(parsed.envelope, context);
    this.options.observer?.consumed(topic, outcome);
    return outcome;
  }

  private async runHandler<T extends Topic>(
    envelope: EnvelopeOf<T>,
    context: Omit<MessageContext<TTx>, 'tx'>,
  ): Promise<ProcessOutcome> {
    const handler = this.options.handlers[context.topic] as TopicHandler<T, TTx>;
    const key = { consumer: context.consumer, messageId: envelope.id, topic: context.topic };
    try {
      const { duplicate } = await this.options.idempotency.runOnce(key, (tx) => handler(envelope, { ...context, tx }));
      if (duplicate) {
        this.options.logger.log(
          `messaging.duplicate_skipped topic=${context.topic} id=${envelope.id} failureId=${envelope.failureId}`,
        );
        return 'duplicate';
      }
      return 'handled';
    } catch (error) {
      this.options.logger.error(
        `messaging.handler_failed topic=${context.topic} id=${envelope.id} failureId=${envelope.failureId} ` +
          `offset=${context.offset}: ${errorMessage(error)} (will be redelivered)`,
      );
      throw error;
    }
  }

  private async deadLetter(topic: Topic, partition: number, message: KafkaMessage, reason: string): Promise<void> {
    const { groupId, topicPrefix } = this.options;
    await this.options.sendDeadLetter(deadLetterFor({ topicPrefix, topic, partition, message, consumer: groupId, reason }));
    this.options.logger.warn(
      `messaging.dead_lettered topic=${topic} partition=${partition} offset=${message.offset}: ${reason}`,
    );
  }
}

function decode<T extends Topic>(
  topic: T,
  value: Buffer | null,
): { ok: true; envelope: EnvelopeOf<T> } | { ok: false; reason: string } {
  if (value === null || value.length === 0) {
    return { ok: false, reason: 'empty message value' };
  }
  let json: unknown;
  try {
    json = JSON.parse(value.toString('utf8'));
  } catch (error) {
    return { ok: false, reason: `json: ${errorMessage(error)}` };
  }
  return parseEnvelope(topic, json);
}
