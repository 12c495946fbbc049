import { Admin, Consumer, Kafka, Producer } from 'kafkajs';

import { dlqTopic, Topic, topicName } from '@mfsim/contracts';

import { Backoff, backoffDelay, sleep } from './backoff';
import { down, HealthCheckResult } from './health';
import { IdempotencyStore } from './idempotency';
import { ensureTopics } from './kafka';
import { KafkaHealth } from './kafka-health';
import { errorMessage, MessagingLogger } from './logger';
import { MessageProcessor, MessagingObserver, TopicHandlers } from './message-processor';
import { EnvelopePublisher } from './publisher';

export interface KafkaRuntimeOptions<TTx = unknown> {
  kafka: Kafka;
  /** service name: `source` of published envelopes and, with the prefix, the consumer group */
  service: string;
  topicPrefix: string;
  idempotency: IdempotencyStore<TTx>;
  logger: MessagingLogger;
  connectBackoff?: Backoff;
  now?: () => Date;
  /** Told each message's outcome and each batch's lag (metrics). */
  observer?: MessagingObserver;
}

/**
 * One service's Kafka connection: the producer, a consumer group running the handlers, and health.
 *
 * `start()` returns at once and connects in the background, retrying with exponential backoff,
 * so a broker that is down at boot makes `/health` report kafka down instead of crash-looping the
 * process. Once connected, kafkajs itself reconnects and redelivers.
 */
export interface KafkaRuntimeStart<TTx = unknown> {
  handlers: TopicHandlers<TTx>;
  /** topics this service publishes to (created at boot with their dead-letter twins) */
  produces: readonly Topic[];
  /**
   * Who makes handling idempotent: by default a processed_message row in the handler's
   * transaction; a handler that dedups in its own store atomically with its state (the hop
   * hosts' call records) passes `handlerDedup`.
   */
  idempotency?: IdempotencyStore<TTx>;
  /** partitions handled at once (different keys); default 1 */
  partitionsConsumedConcurrently?: number;
}

/** For handlers that make themselves idempotent: every message is handed over, once per delivery. */
export function handlerDedup<TTx>(): IdempotencyStore<TTx> {
  return { runOnce: async (_key, fn) => ({ duplicate: false, result: await fn(undefined as TTx) }) };
}

export class KafkaRuntime<TTx = unknown> {
  readonly publisher: EnvelopePublisher;
  readonly groupId: string;
  private readonly producer: Producer;
  private readonly consumer: Consumer;
  private readonly admin: Admin;
  private readonly health: KafkaHealth;
  private processor: MessageProcessor<TTx> | undefined;
  private concurrency = 1;
  private produces: readonly Topic[] = [];
  private readonly abort = new AbortController();
  private connecting: Promise<void> | undefined;
  private lastError = 'not connected yet';
  private producerConnected = false;
  private consumerJoined = false;

  constructor(private readonly options: KafkaRuntimeOptions<TTx>) {
    const { kafka, service, topicPrefix } = options;
    this.groupId = `${topicPrefix}${service}`;
    this.producer = kafka.producer({ allowAutoTopicCreation: false });
    this.consumer = kafka.consumer({
      groupId: this.groupId,
      allowAutoTopicCreation: false,
      // The fetch long-poll; disconnect waits for it, so this bounds how long shutdown takes.
      maxWaitTimeInMs: 1000,
      // A member that died is noticed after this long, and its partitions go to the others (or
      // to its restarted self): shorter than kafkajs's 30 s so a crashed service recovers fast.
      sessionTimeout: 10_000,
      heartbeatInterval: 1000,
      // A handler throws only for transient faults: retry the message with backoff, and if that
      // is exhausted kafkajs restarts the consumer from the last committed offset.
      retry: { retries: 8, initialRetryTime: 300, maxRetryTime: 30_000 },
    });
    this.admin = kafka.admin();
    this.health = new KafkaHealth({ kafka });
    this.publisher = new EnvelopePublisher({
      producer: this.producer,
      topicPrefix,
      source: service,
      ...(options.now ? { now: options.now } : {}),
    });
    this.trackConnectionState();
  }

  /** Starts consuming with `handlers` (once per runtime); returns before Kafka is reached. */
  start({ handlers, produces, idempotency, partitionsConsumedConcurrently }: KafkaRuntimeStart<TTx>): void {
    if (this.processor) {
      throw new Error(`KafkaRuntime for ${this.groupId} was already started`);
    }
    this.produces = produces;
    this.concurrency = partitionsConsumedConcurrently ?? 1;
    this.processor = new MessageProcessor({
      groupId: this.groupId,
      topicPrefix: this.options.topicPrefix,
      handlers,
      idempotency: idempotency ?? this.options.idempotency,
      logger: this.options.logger,
      ...(this.options.observer ? { observer: this.options.observer } : {}),
      sendDeadLetter: async ({ topic, message }) => {
        await this.producer.send({ topic, messages: [message] });
      },
    });
    this.connecting = this.connectUntilReady();
  }

  /** kafka is up when the cluster answers, the producer is connected and the consumer has joined. */
  async check(): Promise<HealthCheckResult> {
    const cluster = await this.health.check();
    if (cluster.status === 'down') {
      return cluster;
    }
    if (!this.producerConnected) {
      return down(`kafka: producer not connected (${this.lastError})`);
    }
    if (!this.consumerJoined) {
      return down(`kafka: consumer group ${this.groupId} has not joined (${this.lastError})`);
    }
    return cluster;
  }

  /** Stops consuming, then closes the producer and admin clients (reverse of start). */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.connecting;
    await this.consumer.disconnect();
    await this.producer.disconnect();
    await this.admin.disconnect();
    await this.health.close();
    this.options.logger.log(`messaging.kafka.stopped group=${this.groupId}`);
  }

  private async connectUntilReady(): Promise<void> {
    const backoff = this.options.connectBackoff ?? { initialMs: 500, maxMs: 15_000 };
    for (let attempt = 1; !this.abort.signal.aborted; attempt += 1) {
      try {
        await this.connectOnce();
        this.options.logger.log(`messaging.kafka.connected group=${this.groupId} attempt=${attempt}`);
        return;
      } catch (error) {
        this.lastError = errorMessage(error);
        const delay = backoffDelay(backoff, attempt);
        this.options.logger.warn(
          `messaging.kafka.connect_failed attempt=${attempt} retry_in_ms=${delay}: ${this.lastError}`,
        );
        await Promise.allSettled([this.consumer.disconnect(), this.producer.disconnect(), this.admin.disconnect()]);
        await sleep(delay, this.abort.signal);
      }
    }
  }

  private async connectOnce(): Promise<void> {
    const processor = this.processor;
    if (!processor) {
      throw new Error('connect before start');
    }
    const consumed = processor.subscribedTopics();
    const needed = [...new Set([...consumed, ...this.produces])];
    await this.admin.connect();
    await ensureTopics(this.admin, this.options.topicPrefix, [...needed, ...needed.map(dlqTopic)]);
    // Only needed for that; health has an admin client of its own.
    await this.admin.disconnect();
    await this.producer.connect();
    if (consumed.length === 0) {
      this.consumerJoined = true;
      return;
    }
    await this.consumer.connect();
    await this.consumer.subscribe({
      topics: consumed.map((topic) => topicName(this.options.topicPrefix, topic)),
      fromBeginning: true,
    });
    await this.consumer.run({
      partitionsConsumedConcurrently: this.concurrency,
      // Offsets are committed every 500 ms (or 100 messages) instead of after every message:
      // a broker round trip less per message. A restart may see up to that much again, which
      // every handler already tolerates (idempotent).
      autoCommitInterval: 500,
      autoCommitThreshold: 100,
      eachMessage: async ({ topic, partition, message }) => {
        await processor.process(topic, partition, message);
      },
    });
  }

  private trackConnectionState(): void {
    const { producer, consumer } = this;
    producer.on(producer.events.CONNECT, () => (this.producerConnected = true));
    producer.on(producer.events.DISCONNECT, () => (this.producerConnected = false));
    consumer.on(consumer.events.GROUP_JOIN, () => (this.consumerJoined = true));
    consumer.on(consumer.events.STOP, () => (this.consumerJoined = false));
    const observer = this.options.observer;
    if (observer?.lag) {
      consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
        const topic = this.processor?.logicalTopic(payload.topic);
        if (topic !== undefined) observer.lag?.(topic, payload.partition, Number(payload.offsetLag));
      });
    }
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.consumerJoined = false;
      this.lastError = `consumer crashed: ${errorMessage(payload.error)}; restart=${payload.restart}`;
      this.options.logger.error(`messaging.kafka.consumer_crashed group=${this.groupId}: ${this.lastError}`);
      // kafkajs restarts the consumer itself after retriable errors; after any other it stays
      // stopped, so go through the connect loop (with its backoff) again.
      if (!payload.restart && !this.abort.signal.aborted) {
        this.connecting = this.connecting?.then(() => this.connectUntilReady());
      }
    });
  }
}
