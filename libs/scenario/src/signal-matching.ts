/**
 * Matches expected signals (where addr and lsb may be left out: wildcards) with the signals
 * sent, as many as possible. A maximum bipartite matching, computed without recursion and in
 * polynomial time however many signals there are:
 *
 *  1. signals only match within one (pid, signo, code);
 *  2. there, identical expectations form one *kind* with a count, and so do identical signals,
 *     so N copies of `{ pid: 100, code: BUS_MCEERR_AR }` are one node of capacity N;
 *  3. a maximum flow (Dinic, iterative) from the expected kinds to the sent kinds gives the
 *     matching; each kind's flow is then handed out to its members in file / send order.
 */
import type { OutcomeSignal } from './outcome';
import type { ExpectedSignal } from './scenario.types';

export interface SignalMatching {
  /** matchedExpected[i]: expected signal i has a sent signal. */
  matchedExpected: boolean[];
  /** matchedActual[j]: sent signal j was expected. */
  matchedActual: boolean[];
}

interface Kind {
  node: number;
  members: number[];
}

/** A flow network with integer capacities: Dinic's algorithm, without recursion. */
class FlowNetwork {
  private readonly head: number[];
  private readonly next: number[] = [];
  private readonly to: number[] = [];
  readonly cap: number[] = [];

  constructor(readonly nodes: number) {
    this.head = new Array<number>(nodes).fill(-1);
  }

  /** Adds u → v with capacity `cap`; returns the edge's index (its residual twin is index + 1). */
  addEdge(u: number, v: number, cap: number): number {
    const e = this.to.length;
    this.to.push(v, u);
    this.cap.push(cap, 0);
    this.next.push(this.head[u]!, this.head[v]!);
    this.head[u] = e;
    this.head[v] = e + 1;
    return e;
  }

  maxFlow(s: number, t: number): number {
    let flow = 0;
    const level = new Array<number>(this.nodes);
    const current = new Array<number>(this.nodes);
    for (;;) {
      // Levels by breadth-first search over edges with capacity left.
      level.fill(-1);
      level[s] = 0;
      const queue = [s];
      for (let qi = 0; qi < queue.length; qi++) {
        const u = queue[qi]!;
        for (let e = this.head[u]!; e >= 0; e = this.next[e]!) {
          const v = this.to[e]!;
          if (this.cap[e]! > 0 && level[v]! < 0) {
            level[v] = level[u]! + 1;
            queue.push(v);
          }
        }
      }
      if (level[t]! < 0) return flow;
      for (let u = 0; u < this.nodes; u++) current[u] = this.head[u]!;
      // Blocking flow: depth-first along the levels, with an explicit stack of edges.
      const path: number[] = [];
      let u = s;
      for (;;) {
        if (u === t) {
          let push = Infinity;
          for (const e of path) push = Math.min(push, this.cap[e]!);
          for (const e of path) {
            this.cap[e]! -= push;
            this.cap[e ^ 1]! += push;
          }
          flow += push;
          path.length = 0;
          u = s;
          continue;
        }
        let e = current[u]!;
        while (e >= 0 && !(this.cap[e]! > 0 && level[this.to[e]!] === level[u]! + 1)) e = this.next[e]!;
        current[u] = e;
        if (e >= 0) {
          path.push(e);
          u = this.to[e]!;
          continue;
        }
        // Dead end: retreat one edge and never come back to u in this phase.
        level[u] = -1;
        const back = path.pop();
        if (back === undefined) break;
        u = this.to[back ^ 1]!;
        current[u] = this.next[current[u]!]!;
      }
    }
  }
}

const groupKey = (s: { pid: number; signo: string; code: string }): string => `${s.pid}|${s.signo}|${s.code}`;
const valueKey = (v: bigint | number | null | undefined): string => (v === undefined ? '*' : v === null ? '-' : String(v));

export function matchSignals(expected: readonly ExpectedSignal[], actual: readonly OutcomeSignal[]): SignalMatching {
  const matchedExpected = new Array<boolean>(expected.length).fill(false);
  const matchedActual = new Array<boolean>(actual.length).fill(false);

  // Kinds, per (pid, signo, code) group.
  let nodes = 2; // 0 = source, 1 = sink
  const expectedKinds = new Map<string, Map<string, Kind & { addr: bigint | undefined; lsb: number | undefined }>>();
  expected.forEach((e, i) => {
    const group = expectedKinds.get(groupKey(e)) ?? new Map();
    expectedKinds.set(groupKey(e), group);
    const key = `${valueKey(e.addr)}|${valueKey(e.lsb)}`;
    const kind = group.get(key) ?? { node: nodes++, members: [], addr: e.addr, lsb: e.lsb };
    group.set(key, kind);
    kind.members.push(i);
  });
  const actualKinds = new Map<string, Map<string, Kind & { addr: bigint | null; lsb: number | null }>>();
  actual.forEach((a, j) => {
    if (!expectedKinds.has(groupKey(a))) return; // nothing can match it
    const group = actualKinds.get(groupKey(a)) ?? new Map();
    actualKinds.set(groupKey(a), group);
    const key = `${valueKey(a.addr)}|${valueKey(a.lsb)}`;
    const kind = group.get(key) ?? { node: nodes++, members: [], addr: a.addr, lsb: a.lsb };
    group.set(key, kind);
    kind.members.push(j);
  });

  const net = new FlowNetwork(nodes);
  const links: { from: Kind; to: Kind; edge: number }[] = [];
  for (const [key, eGroup] of expectedKinds) {
    const aGroup = actualKinds.get(key);
    if (aGroup === undefined) continue;
    const aKinds = [...aGroup.values()];
    const byAddr = new Map<string, typeof aKinds>();
    const byLsb = new Map<string, typeof aKinds>();
    const index = (map: Map<string, typeof aKinds>, key: string, a: (typeof aKinds)[number]): void => {
      const list = map.get(key);
      if (list === undefined) map.set(key, [a]);
      else list.push(a);
    };
    for (const a of aKinds) {
      index(byAddr, valueKey(a.addr), a);
      index(byLsb, valueKey(a.lsb), a);
    }
    for (const e of eGroup.values()) {
      net.addEdge(0, e.node, e.members.length);
      const candidates =
        e.addr !== undefined
          ? (byAddr.get(valueKey(e.addr)) ?? []).filter((a) => e.lsb === undefined || a.lsb === e.lsb)
          : e.lsb !== undefined
            ? (byLsb.get(valueKey(e.lsb)) ?? [])
            : aKinds;
      for (const a of candidates) links.push({ from: e, to: a, edge: net.addEdge(e.node, a.node, e.members.length) });
    }
    for (const a of aKinds) net.addEdge(a.node, 1, a.members.length);
  }
  net.maxFlow(0, 1);

  // Hand each link's flow out to the members of its kinds, in order.
  const nextExpected = new Map<Kind, number>();
  const nextActual = new Map<Kind, number>();
  for (const { from, to, edge } of links) {
    const flow = net.cap[edge ^ 1]!;
    for (let k = 0; k < flow; k++) {
      const i = nextExpected.get(from) ?? 0;
      const j = nextActual.get(to) ?? 0;
      matchedExpected[from.members[i]!] = true;
      matchedActual[to.members[j]!] = true;
      nextExpected.set(from, i + 1);
      nextActual.set(to, j + 1);
    }
  }
  return { matchedExpected, matchedActual };
}
