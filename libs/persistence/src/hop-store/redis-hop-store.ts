import type { Redis } from 'ioredis';

import {
  decodeJson,
  decodeState,
  diffEntities,
  encodeJson,
  encodeState,
  type CallRecord,
  type Entities,
  type SubsystemState,
} from '@mfsim/kernel-model';

import { incidentOf, UnknownRunError, type HopStore, type OpenChain, type StepChanges, type StepView } from './hop-store';

interface Cached {
  version: string;
  entities: Entities;
  state: SubsystemState;
}

/** Thrown inside a step when another replica wrote the run first (WATCH fired): retry. */
class WriteConflict extends Error {}

/**
 * The HopStore of mm-process, in Redis (keys under the client's prefix):
 *   hop:<run>:ver           version, WATCHed by every step (optimistic: a replica that lost
 *                           the race reloads and runs the step again)
 *   hop:<run>:e             hash: entity key → JSON (tasks, PTEs, DAX entries, folios, …)
 *   hop:<run>:c:<chain>     hash: call id → record JSON
 *   hop:<run>:inc:<inc>     set of the chains of an incident
 *   hop:open                sorted set "<run> <chain>" → last write (ms), while open
 * A step's writes, its records and the new version go in one MULTI/EXEC.
 */
export class RedisHopStore implements HopStore {
  private readonly cache = new Map<string, Cached>();
  /** Connections for WATCH/MULTI (WATCH is per connection), reused between steps. */
  private readonly idle: Redis[] = [];

  constructor(
    private readonly redis: Redis,
    private readonly now: () => number = Date.now,
  ) {}

  async setup(run: string, entities: Entities): Promise<void> {
    await this.drop(run);
    const m = this.redis.multi();
    if (entities.size > 0) m.hset(`hop:${run}:e`, Object.fromEntries(entities));
    m.set(`hop:${run}:ver`, '1');
    m.sadd('hop:runs', run);
    await m.exec();
    this.cache.delete(run);
  }

  async step<T>(run: string, chain: string, fn: (view: StepView) => Promise<StepChanges<T>>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.stepOnce(run, chain, fn);
      } catch (err) {
        this.cache.delete(run);
        if (!(err instanceof WriteConflict) || attempt >= 20) throw err;
      }
    }
  }

  private async stepOnce<T>(run: string, chain: string, fn: (view: StepView) => Promise<StepChanges<T>>): Promise<T> {
    // A connection of its own for the step: WATCH is per connection.
    const conn = this.idle.pop() ?? this.redis.duplicate();
    let reuse = true;
    try {
      await conn.watch(`hop:${run}:ver`);
      const version = await conn.get(`hop:${run}:ver`);
      if (version === null) throw new UnknownRunError(run);
      let cached = this.cache.get(run);
      if (!cached || cached.version !== version) {
        const entities: Entities = new Map(Object.entries(await conn.hgetall(`hop:${run}:e`)));
        cached = { version, entities, state: decodeState('mm', entities) };
        this.cache.set(run, cached);
      }
      const records = await loadChain(conn, run, chain);
      const view: StepView = { state: cached.state, records, read: async (op) => Promise.reject(new Error(`mm: no read ${op}`)) };
      const changes = await fn(view);
      const after = encodeState('mm', cached.state);
      const { put, del } = diffEntities(cached.entities, after);
      const touched = [...changes.touched].map((id) => records.get(id)).filter((r): r is CallRecord => r !== undefined);
      if (put.size === 0 && del.length === 0 && touched.length === 0) {
        await conn.unwatch();
        return changes.value;
      }
      const m = conn.multi();
      if (put.size > 0) m.hset(`hop:${run}:e`, Object.fromEntries(put));
      if (del.length > 0) m.hdel(`hop:${run}:e`, ...del);
      if (touched.length > 0) {
        m.hset(`hop:${run}:c:${chain}`, Object.fromEntries(touched.map((r) => [r.id, encodeJson(r)])));
        m.sadd(`hop:${run}:inc:${incidentOf(chain)}`, chain);
        const root = records.get(chain);
        if (root && root.status === 'open') m.zadd('hop:open', this.now(), `${run} ${chain}`);
        else m.zrem('hop:open', `${run} ${chain}`);
      }
      m.incr(`hop:${run}:ver`);
      const res = await m.exec();
      if (res === null) throw new WriteConflict();
      const failed = res.find(([e]) => e !== null);
      if (failed) throw failed[0] as Error;
      cached.version = String(res[res.length - 1]?.[1]);
      cached.entities = after;
      return changes.value;
    } catch (err) {
      reuse = false;
      throw err;
    } finally {
      if (reuse && this.idle.length < 8) this.idle.push(conn);
      else conn.disconnect();
    }
  }

  chainRecords(run: string, chain: string): Promise<Map<string, CallRecord>> {
    return loadChain(this.redis, run, chain);
  }

  async entities(run: string): Promise<Entities> {
    if ((await this.redis.exists(`hop:${run}:ver`)) === 0) throw new UnknownRunError(run);
    return new Map(Object.entries(await this.redis.hgetall(`hop:${run}:e`)));
  }

  async incidentRecords(run: string, incident: string): Promise<CallRecord[]> {
    const out: CallRecord[] = [];
    for (const chain of await this.redis.smembers(`hop:${run}:inc:${incident}`)) out.push(...(await loadChain(this.redis, run, chain)).values());
    return out;
  }

  async openChains(olderThanMs: number): Promise<OpenChain[]> {
    const members = await this.redis.zrangebyscore('hop:open', '0', String(this.now() - olderThanMs), 'LIMIT', '0', '1000');
    return members.map((m) => {
      const space = m.indexOf(' ');
      return { run: m.slice(0, space), chain: m.slice(space + 1) };
    });
  }

  async drop(run: string): Promise<void> {
    const prefix = this.redis.options.keyPrefix ?? '';
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.redis.scan(cursor, 'MATCH', `${prefix}hop:${run}:*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch.map((k) => k.slice(prefix.length)));
    } while (cursor !== '0');
    for (let i = 0; i < keys.length; i += 500) await this.redis.del(...keys.slice(i, i + 500));
    const open = await this.redis.zrange('hop:open', '0', '-1');
    const mine = open.filter((m) => m.startsWith(`${run} `));
    if (mine.length > 0) await this.redis.zrem('hop:open', ...mine);
    await this.redis.srem('hop:runs', run);
    this.cache.delete(run);
  }

  async close(): Promise<void> {
    // The main client belongs to the caller; the step connections are ours.
    for (const conn of this.idle.splice(0)) conn.disconnect();
  }
}

async function loadChain(redis: Redis, run: string, chain: string): Promise<Map<string, CallRecord>> {
  const records = new Map<string, CallRecord>();
  for (const text of Object.values(await redis.hgetall(`hop:${run}:c:${chain}`))) {
    const rec = decodeJson(text) as CallRecord;
    records.set(rec.id, rec);
  }
  return records;
}
