import { Admin, Kafka } from 'kafkajs';

import { down, HealthCheckResult, UP } from './health';
import { errorMessage } from './logger';

export interface KafkaHealthOptions {
  kafka: Kafka;
  /** give up on one describeCluster after this many ms */
  timeoutMs?: number;
  /** reuse a result for this many ms, so frequent probes do not hit the broker each time */
  cacheMs?: number;
  now?: () => number;
}

/**
 * Whether the cluster answers: `describeCluster` on a dedicated admin client with no retries and a
 * short timeout. Results are cached briefly and concurrent checks share one request.
 */
export class KafkaHealth {
  private readonly admin: Admin;
  private readonly timeoutMs: number;
  private readonly cacheMs: number;
  private readonly now: () => number;
  private connected = false;
  private cached: { at: number; result: HealthCheckResult } | undefined;
  private inFlight: Promise<HealthCheckResult> | undefined;

  constructor({ kafka, timeoutMs = 1500, cacheMs = 1000, now = Date.now }: KafkaHealthOptions) {
    this.admin = kafka.admin({ retry: { retries: 0 } });
    this.timeoutMs = timeoutMs;
    this.cacheMs = cacheMs;
    this.now = now;
  }

  async check(): Promise<HealthCheckResult> {
    if (this.cached && this.now() - this.cached.at < this.cacheMs) {
      return this.cached.result;
    }
    this.inFlight ??= this.probe().then((result) => {
      this.cached = { at: this.now(), result };
      this.inFlight = undefined;
      return result;
    });
    return this.inFlight;
  }

  async close(): Promise<void> {
    await this.inFlight;
    await this.admin.disconnect();
    this.connected = false;
  }

  private async probe(): Promise<HealthCheckResult> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      await Promise.race([this.describeCluster(), timeout]);
      return UP;
    } catch (error) {
      // Start from a fresh connection next time; a half-open one may never answer.
      this.connected = false;
      void this.admin.disconnect().catch(() => undefined);
      return down(`kafka: ${errorMessage(error)}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private async describeCluster(): Promise<void> {
    if (!this.connected) {
      await this.admin.connect();
      this.connected = true;
    }
    const cluster = await this.admin.describeCluster();
    if (cluster.brokers.length === 0) {
      throw new Error('cluster reports no brokers');
    }
  }
}
