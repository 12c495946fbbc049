/**
 * A cluster of five hosts in one process, connected by a message queue: the distributed mode
 * without Kafka, PostgreSQL or Redis. Each host keeps only what a service keeps (its state as
 * stored entities and its call records as JSON) and forgets everything else after each
 * message, so every reply is handled by a full replay from the records — the way a service
 * restarted with empty memory handles it. Used to test the replay machinery and the codecs
 * against the embedded model, and by tools that want the distributed semantics cheaply.
 */
import {
  decodeJson,
  decodeState,
  diffEntities,
  encodeJson,
  encodeState,
  handleIncoming,
  lookup,
  ownerOf,
  refcountRecords,
  subsystemHost,
  xfsRmapQueryRange,
  type CallRecord,
  type Entities,
  type Incoming,
  type Kernel,
  type OpName,
  type Outgoing,
  type Subsystem,
  type SubsystemState,
  type TaskCtx,
  type XfsRmapBtree,
  type XfsRmapIrec,
} from '@mfsim/kernel-model';
import type { Cluster, RootResult } from './distributed';
import type { BootPlan } from './topology';

export const SUBSYSTEMS: readonly Subsystem[] = ['pmem', 'dax', 'dm', 'xfs', 'mm'];

class SimHost {
  entities: Entities = new Map();
  /** chain id → call id → record JSON. */
  readonly records = new Map<string, Map<string, string>>();
  readonly rmaps = new Map<string, readonly (XfsRmapBtree | readonly XfsRmapIrec[])[]>();
  messages = 0;
  private cached: SubsystemState | null = null;

  constructor(
    readonly subsys: Subsystem,
    private readonly freshState: boolean,
  ) {}

  invalidate(): void {
    this.cached = null;
  }

  async receive(incoming: Incoming): Promise<Outgoing[]> {
    this.messages++;
    // A service keeps its decoded state while nobody else wrote its store; `freshState`
    // decodes it from the entities on every message, as after a restart.
    const state = this.freshState || !this.cached ? decodeState(this.subsys, this.entities) : this.cached;
    this.cached = state;
    const records = new Map<string, CallRecord>();
    const chainId = incoming.kind === 'call' ? incoming.id : incoming.chain;
    for (const [id, text] of this.records.get(chainId) ?? []) records.set(id, decodeJson(text) as CallRecord);
    const host = subsystemHost(this.subsys, state, records, (op, args) => {
      const a = args as { fs: string; agno: bigint; low: bigint; high: bigint };
      const ag = lookup(this.rmaps, a.fs, 'filesystem rmap')[Number(a.agno)];
      if (op === 'xfs.refcountQueryRange') return refcountRecords(ag, a.low, a.high);
      return xfsRmapQueryRange(ag ?? [], a.low, a.high);
    });
    const step = await handleIncoming(host, incoming);
    const { put, del } = diffEntities(this.entities, encodeState(this.subsys, state));
    for (const k of del) this.entities.delete(k);
    for (const [k, v] of put) this.entities.set(k, v);
    for (const id of step.touched) {
      const rec = records.get(id) as CallRecord;
      let chain = this.records.get(rec.chain);
      if (!chain) this.records.set(rec.chain, (chain = new Map()));
      chain.set(id, encodeJson(rec));
    }
    return step.send;
  }
}

/** The in-process cluster. `hosts` is exposed for tests that look at what a host stored. */
export interface SimClusterOptions {
  /** Decode each host's state from its stored entities on every message (default false). */
  readonly freshState?: boolean;
}

export class SimCluster implements Cluster {
  readonly hosts: Map<Subsystem, SimHost>;

  constructor(options: SimClusterOptions = {}) {
    this.hosts = new Map(SUBSYSTEMS.map((s) => [s, new SimHost(s, options.freshState ?? false)]));
  }

  async setup(plan: BootPlan): Promise<void> {
    for (const subsys of SUBSYSTEMS) {
      const host = this.host(subsys);
      host.entities = encodeState(subsys, plan.kernel[subsys] as SubsystemState);
      host.invalidate();
    }
    for (const mp of plan.kernel.xfs.mounts.values()) this.host('xfs').rmaps.set(mp.name, mp.rmap);
  }

  async call(id: string, op: OpName, args: unknown, ctx: TaskCtx): Promise<RootResult> {
    const queue: (Outgoing | (Incoming & { to: Subsystem }))[] = [{ kind: 'call', to: ownerOf(op), id, op, args, ctx, chain: id, from: 'user' }];
    while (queue.length > 0) {
      const msg = queue.shift() as Outgoing;
      if (msg.kind === 'reply' && msg.to === 'user') {
        if (msg.id !== id) throw new Error(`unexpected root reply ${msg.id}`);
        if (msg.error !== undefined) throw new Error(msg.error);
        return msg.panic !== undefined ? { panic: msg.panic } : { result: msg.result };
      }
      // Through the wire: what a host receives is only what survives encoding.
      const incoming = decodeJson(encodeJson(msg)) as Incoming;
      const to = msg.to as Subsystem;
      queue.push(...(await this.host(to).receive(incoming)));
    }
    throw new Error(`root call ${id} never answered`);
  }

  async kernel(): Promise<Kernel> {
    const k = { panic: null } as Record<string, unknown>;
    for (const subsys of SUBSYSTEMS) k[subsys] = decodeState(subsys, this.host(subsys).entities);
    return k as unknown as Kernel;
  }

  async records(rootId: string): Promise<Map<string, CallRecord>> {
    const out = new Map<string, CallRecord>();
    for (const host of this.hosts.values()) {
      for (const [chain, recs] of host.records) {
        if (chain !== rootId && !chain.startsWith(`${rootId}.`)) continue;
        for (const [id, text] of recs) out.set(id, decodeJson(text) as CallRecord);
      }
    }
    return out;
  }

  private host(subsys: Subsystem): SimHost {
    return this.hosts.get(subsys) as SimHost;
  }
}
