/**
 * Compares an outcome with a scenario's `expect` (scenario-format "Expectations and the
 * outcome"): signals as a multiset, actionResults as an ordered list, everything else only
 * for what `expect` lists. A field left out of an expected signal (addr, lsb) is not compared.
 */
import { hex } from '@mfsim/kernel-model';
import { getEntry, type Outcome, type OutcomeSignal } from './outcome';
import { matchSignals } from './signal-matching';
import type { ExpectSpec, ExpectedSignal } from './scenario.types';

export interface Mismatch {
  path: string;
  expected: unknown;
  actual: unknown;
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
 * Multiset comparison with wildcards (an omitted addr or lsb): a maximum matching between
 * expected and sent signals, so the order the file lists its expectations in can never make a
 * valid matching look like a mismatch. Signals only match within one (pid, signo, code); there,
 * identical expectations and identical signals are merged into kinds with a count, and the
 * matching is a maximum flow over the kinds (signal-matching.ts): polynomial and iterative,
 * whatever the number of signals.
 */
function compareSignals(expected: ExpectedSignal[], actual: OutcomeSignal[], out: Mismatch[]): void {
  const { matchedExpected, matchedActual } = matchSignals(expected, actual);
  expected.forEach((e, i) => {
    if (!matchedExpected[i]) out.push({ path: `signals[${i}]`, expected: signalToJson(e), actual: null });
  });
  actual.forEach((a, j) => {
    if (!matchedActual[j]) out.push({ path: 'signals', expected: null, actual: signalToJson(a) });
  });
}

export function compareOutcome(expect: ExpectSpec | undefined, o: Outcome): Mismatch[] {
  const out: Mismatch[] = [];
  if (!expect) return out;
  for (const [id, e] of Object.entries(expect.injections ?? {})) {
    const actual = getEntry(o.injections, id)?.rc ?? null;
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
    const a = getEntry(o.filesystems, name);
    for (const [key, value] of Object.entries(e)) {
      const actual = a ? (a as Record<string, unknown>)[key] : undefined;
      if (actual !== value) out.push({ path: `filesystems.${name}.${key}`, expected: value, actual: actual ?? null });
    }
  }
  for (const [name, e] of Object.entries(expect.devices ?? {})) {
    const a = getEntry(o.devices, name);
    for (const [key, value] of Object.entries(e)) {
      const actual = a ? (a as Record<string, unknown>)[key] : undefined;
      if (actual !== value) out.push({ path: `devices.${name}.${key}`, expected: value, actual: actual ?? null });
    }
  }
  const pages = new Map(o.pages.map((p) => [p.pfn, p.hwpoison] as const));
  (expect.pages ?? []).forEach((e, i) => {
    const actual = pages.get(e.pfn) ?? false;
    if (actual !== e.hwpoison) out.push({ path: `pages[${i}].hwpoison (pfn ${hex(e.pfn)})`, expected: e.hwpoison, actual });
  });
  const incidents = new Map<string, Outcome['incidents'][number]>();
  for (const x of o.incidents) if (!incidents.has(x.id)) incidents.set(x.id, x);
  (expect.incidents ?? []).forEach((e, i) => {
    const actual = incidents.get(e.id);
    if (!actual) out.push({ path: `incidents[${i}]`, expected: { id: e.id }, actual: null });
    else if (e.status !== undefined && actual.status !== e.status)
      out.push({ path: `incidents[${i}].status (${e.id})`, expected: e.status, actual: actual.status });
  });
  const ptes = new Map<string, boolean>();
  for (const p of o.ptes) {
    const key = `${p.pid}:${p.addr}`;
    if (!ptes.has(key)) ptes.set(key, p.present);
  }
  (expect.ptes ?? []).forEach((e, i) => {
    const actual = ptes.get(`${e.pid}:${e.addr}`) ?? false;
    if (actual !== e.present) out.push({ path: `ptes[${i}].present (pid ${e.pid} ${hex(e.addr)})`, expected: e.present, actual });
  });
  return out;
}
