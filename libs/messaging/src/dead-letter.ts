import { IHeaders, KafkaMessage, Message } from 'kafkajs';

import { dlqTopic, Topic, topicName } from '@mfsim/contracts';

/** Headers a dead-lettered message carries besides the original ones. */
export const DeadLetterHeaders = {
  REASON: 'mfsim-dlq-reason',
  TOPIC: 'mfsim-dlq-original-topic',
  PARTITION: 'mfsim-dlq-original-partition',
  OFFSET: 'mfsim-dlq-original-offset',
  CONSUMER: 'mfsim-dlq-consumer',
} as const;

export interface DeadLetter {
  topic: string;
  message: Message;
}

/**
 * The dead letter for a message that could not be parsed: the original key, bytes and headers
 * (trace context included) on `<topic>.dlq`, plus why and where it came from.
 */
export function deadLetterFor({
  topicPrefix,
  topic,
  partition,
  message,
  consumer,
  reason,
}: {
  topicPrefix: string;
  topic: Topic;
  partition: number;
  message: KafkaMessage;
  consumer: string;
  reason: string;
}): DeadLetter {
  const headers: IHeaders = {
    ...message.headers,
    [DeadLetterHeaders.REASON]: reason,
    [DeadLetterHeaders.TOPIC]: topicName(topicPrefix, topic),
    [DeadLetterHeaders.PARTITION]: String(partition),
    [DeadLetterHeaders.OFFSET]: message.offset,
    [DeadLetterHeaders.CONSUMER]: consumer,
  };
  return {
    topic: topicName(topicPrefix, dlqTopic(topic)),
    message: { key: message.key, value: message.value, headers },
  };
}
