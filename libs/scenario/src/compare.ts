/**
 * Compares an outcome with a scenario's `expect` (scenario-format "Expectations and the
 * outcome"): signals as a multiset, actionResults as an ordered list, everything else only
 * for what `expect` lists. A field left out of an expected signal (addr, lsb) is not compared.
 */
import { hex } from '@mfsim/kernel-model';
import type { Outcome, OutcomeSignal } from './outcome';
import type { ExpectSpec, ExpectedSignal } from './scenario.types';

export interface Mismatch {
  path: string;
  expected: unknown;
  actual: unknown;
}

function signalMatches(e: ExpectedSignal, a: OutcomeSignal): boolean {
  if (e.pid !== a.pid || e.signo !== a.signo || e.code !== a.code) return false;
  if (e.addr !== undefined && e.addr !== a.addr) return false;
  if (e.lsb !== undefined && e.lsb !== a.lsb) return false;
  return true;
}

export function signalToJson(s: { pid: number; signo: string; code: string; addr?: bigint | null; lsb?: number | null }): Record<string, unknown> {
  return {
    pid: s.pid,
    signo: s.signo,
    code: s.code,
    ...(s.addr !== undefined && s.addr !== null ? { addr: hex(s.addr) } : {}),
    ...(s.lsb !== undefined && s.lsb !== null ? { lsb: s.lsb } : {}),
  };
}

/**
 * Multiset comparison with wildcards (an omitted addr or lsb): a maximum bipartite matching
 * between expected and sent signals (Kuhn's augmenting paths), so the order the file lists
 * its expectations in can never make a valid matching look like a mismatch.
 */
function compareSignals(expected: ExpectedSignal[], actual: OutcomeSignal[], out: Mismatch[]): void {
  const matchOfActual = new Array<number>(actual.length).fill(-1);
  const tryAssign = (e: number, seen: boolean[]): boolean => {
    for (let a = 0; a < actual.length; a++) {
      if (seen[a] || !signalMatches(expected[e] as ExpectedSignal, actual[a] as OutcomeSignal)) continue;
      seen[a] = true;
      const holder = matchOfActual[a] as number;
      if (holder < 0 || tryAssign(holder, seen)) {
        matchOfActual[a] = e;
        return true;
      }
    }
    return false;
  };
  const matched = new Set<number>();
  expected.forEach((_e, i) => {
    if (tryAssign(i, new Array<boolean>(actual.length).fill(false))) matched.add(i);
  });
  expected.forEach((e, i) => {
    if (!matched.has(i)) out.push({ path: `signals[${i}]`, expected: signalToJson(e), actual: null });
  });
  actual.forEach((a, j) => {
    if (matchOfActual[j] === -1) out.push({ path: 'signals', expected: null, actual: signalToJson(a) });
  });
}

export function compareOutcome(expect: ExpectSpec | undefined, o: Outcome): Mismatch[] {
  const out: Mismatch[] = [];
  if (!expect) return out;
  for (const [id, e] of Object.entries(expect.injections ?? {})) {
    const actual = o.injections[id]?.rc ?? null;
    if (actual !== e.rc) out.push({ path: `injections.${id}.rc`, expected: e.rc, actual });
  }
  if (expect.signals) compareSignals(expect.signals, o.signals, out);
  if (expect.actionResults) {
    const n = Math.max(expect.actionResults.length, o.actionResults.length);
    for (let i = 0; i < n; i++) {
      const e = expect.actionResults[i];
      const a = o.actionResults[i];
      const ej = e ? { pfn: hex(e.pfn), type: e.type, result: e.result } : null;
      const aj = a ? { pfn: hex(a.pfn), type: a.type, result: a.result } : null;
      if (!e || !a || e.pfn !== a.pfn || e.type !== a.type || e.result !== a.result) out.push({ path: `actionResults[${i}]`, expected: ej, actual: aj });
    }
  }
  for (const [name, e] of Object.entries(expect.filesystems ?? {})) {
    const a = o.filesystems[name];
    for (const [key, value] of Object.entries(e)) {
      const actual = a ? (a as Record<string, unknown>)[key] : undefined;
      if (actual !== value) out.push({ path: `filesystems.${name}.${key}`, expected: value, actual: actual ?? null });
    }
  }
  for (const [name, e] of Object.entries(expect.devices ?? {})) {
    const a = o.devices[name];
    for (const [key, value] of Object.entries(e)) {
      const actual = a ? (a as Record<string, unknown>)[key] : undefined;
      if (actual !== value) out.push({ path: `devices.${name}.${key}`, expected: value, actual: actual ?? null });
    }
  }
  (expect.pages ?? []).forEach((e, i) => {
    const actual = o.pages.find((p) => p.pfn === e.pfn)?.hwpoison ?? false;
    if (actual !== e.hwpoison) out.push({ path: `pages[${i}].hwpoison (pfn ${hex(e.pfn)})`, expected: e.hwpoison, actual });
  });
  (expect.incidents ?? []).forEach((e, i) => {
    const actual = o.incidents.find((x) => x.id === e.id);
    if (!actual) out.push({ path: `incidents[${i}]`, expected: { id: e.id }, actual: null });
    else if (e.status !== undefined && actual.status !== e.status)
      out.push({ path: `incidents[${i}].status (${e.id})`, expected: e.status, actual: actual.status });
  });
  (expect.ptes ?? []).forEach((e, i) => {
    const actual = o.ptes.find((p) => p.pid === e.pid && p.addr === e.addr)?.present ?? false;
    if (actual !== e.present) out.push({ path: `ptes[${i}].present (pid ${e.pid} ${hex(e.addr)})`, expected: e.present, actual });
  });
  return out;
}
