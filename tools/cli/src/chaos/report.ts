/**
 * The report of a chaos run, beside its history: report.json (figures), report.md (the same for
 * people) and report.svg (latency of each incident over time with the fault windows shaded, and
 * the lag of each consumer group over time). Hand-written SVG: no dependency.
 */
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

import type { CheckResult } from '@mfsim/scenario';

import type { FaultWindow, LagSample, OpTiming } from './runner';

export interface Percentiles {
  readonly n: number;
  readonly p50: number | null;
  readonly p90: number | null;
  readonly p99: number | null;
  readonly max: number | null;
}

export function percentiles(xs: readonly number[]): Percentiles {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => (s.length === 0 ? null : (s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number));
  return { n: s.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: s.length === 0 ? null : (s[s.length - 1] as number) };
}

export interface ReportInput {
  readonly plan: string;
  readonly planFile: string;
  readonly seed: number;
  readonly command: string;
  readonly historyFile: string;
  readonly check: CheckResult;
  readonly ops: readonly OpTiming[];
  readonly lag: readonly LagSample[];
  readonly faults: readonly FaultWindow[];
  readonly wallMs: number;
  readonly setupMs: number;
  readonly interrupted: boolean;
}

export interface ReportJson {
  readonly plan: string;
  readonly command: string;
  readonly pass: boolean;
  readonly anomalies: { name: string; detail: string }[];
  readonly operations: { invoked: number; ok: number; info: number; fail: number; unfinished: number; byKind: Record<string, number> };
  readonly latencyMs: { all: Percentiles; duringFaults: Percentiles; outsideFaults: Percentiles };
  readonly faults: { kind: string; target: string; start: number; effectMs: number | null; seen: string | null; end: number | null; recoveryMs: number | null }[];
  readonly maxLag: Record<string, number>;
  /** The order the checker's model replayed and the operations it linearized around each unbind. */
  readonly linearization: CheckResult['stats']['linearization'];
  readonly setupMs: number;
  readonly wallMs: number;
  readonly interrupted: boolean;
}

/** Whether an operation overlapped a fault window (invoked before it ended and finished after it started). */
function duringFault(o: OpTiming, faults: readonly FaultWindow[]): boolean {
  const done = o.done ?? Infinity;
  return faults.some((f) => o.invoke <= (f.end ?? Infinity) && done >= f.start);
}

export function buildReport(r: ReportInput): ReportJson {
  const finished = r.ops.filter((o) => o.phase === 'ok' && o.done !== null);
  const lat = (xs: readonly OpTiming[]) => percentiles(xs.map((o) => (o.done as number) - o.invoke));
  const byKind: Record<string, number> = {};
  for (const o of r.ops) byKind[o.kind] = (byKind[o.kind] ?? 0) + 1;
  const maxLag: Record<string, number> = {};
  for (const l of r.lag) maxLag[l.group] = Math.max(maxLag[l.group] ?? 0, l.lag);
  const s = r.check.stats;
  return {
    plan: r.plan,
    command: r.command,
    pass: r.check.ok,
    anomalies: r.check.anomalies.map((a) => ({ name: a.name, detail: a.detail })),
    operations: { invoked: s.invoked, ok: s.ok, info: s.info, fail: s.fail, unfinished: s.unfinished, byKind },
    latencyMs: {
      all: lat(finished),
      duringFaults: lat(finished.filter((o) => duringFault(o, r.faults))),
      outsideFaults: lat(finished.filter((o) => !duringFault(o, r.faults))),
    },
    faults: r.faults.map((f) => {
      const rec = r.check.recovery.find((x) => x.fault.kind === f.kind && x.fault.target === f.target && x.start === f.start);
      return { kind: f.kind, target: f.target, start: f.start, effectMs: f.effect === null ? null : f.effect - f.start, seen: f.seen, end: f.end, recoveryMs: rec?.ms ?? null };
    }),
    maxLag,
    linearization: s.linearization,
    setupMs: r.setupMs,
    wallMs: r.wallMs,
    interrupted: r.interrupted,
  };
}

/**
 * "Linearized 9 overlapping operation(s) around the u51 unbind (4 placed before it, 3 inside it
 * at hop boundaries, 2 after; 3 moved from invoke order); the model replayed the points order (…).
 * Hop boundaries (120 model run(s)): 3 operation(s) placed inside (2 by their answer, 0 by the final state, 1 forced by real
 * time): u7 at 14/52 of u51, …; 1 answer(s) no boundary explains (u9)."
 */
export function linearizationText(l: ReportJson['linearization']): string {
  const parts = l.around.map(
    (a) =>
      `${a.overlapping} overlapping operation(s) around the ${a.injection} unbind (${a.before} placed before it, ${a.inside ? `${a.inside} inside it at hop boundaries, ` : ''}${a.after} after; ${a.moved} moved from invoke order)`,
  );
  const text = `Linearized ${parts.join('; ')}; the model replayed the ${l.order} order (${l.ordersTried.length} order(s) tried: ${l.ordersTried.join(', ') || 'none'}).`;
  const points = l.points ?? [];
  if (points.length === 0) return text;
  const placed = points.filter((p) => p.boundary !== null);
  const none = points.filter((p) => p.boundary === null);
  const why = (r: string) => placed.filter((p) => p.reason === r).length;
  return (
    `${text} Hop boundaries (${l.pointReplays} model run(s)): ${placed.length} operation(s) placed inside ` +
    `(${why('answer')} by their answer, ${why('state')} by the final state, ${why('real-time')} forced by real time)` +
    `${placed.length ? `: ${placed.map((p) => `${p.injection} at ${p.boundary}/${p.boundaries} of ${p.host}`).join(', ')}` : ''}` +
    `${none.length ? `; ${none.length} answer(s) no boundary explains (${none.map((p) => p.injection).join(', ')})` : ''}.`
  );
}

const ms = (v: number | null) => (v === null ? '–' : `${Math.round(v)}`);

export function renderMarkdown(j: ReportJson): string {
  const p = (x: Percentiles) => `| ${x.n} | ${ms(x.p50)} | ${ms(x.p90)} | ${ms(x.p99)} | ${ms(x.max)} |`;
  const lines = [
    `# Chaos run: ${j.plan} — ${j.pass ? 'PASS' : 'FAIL'}`,
    '',
    `Command: \`${j.command}\``,
    '',
    `Operations: ${j.operations.invoked} invoked, ${j.operations.ok} ok, ${j.operations.info} info, ${j.operations.fail} fail, ${j.operations.unfinished} unfinished` +
      ` (${Object.entries(j.operations.byKind).map(([k, n]) => `${k} ${n}`).join(', ')}). Set-up ${(j.setupMs / 1000).toFixed(1)} s, whole run ${(j.wallMs / 1000).toFixed(1)} s${j.interrupted ? ' (interrupted)' : ''}.`,
    '',
    '## Anomalies',
    '',
    ...(j.anomalies.length === 0 ? ['none'] : j.anomalies.map((a) => `- **${a.name}**: ${a.detail}`)),
    '',
    ...(j.linearization.around.length === 0 ? [] : [linearizationText(j.linearization), '']),
    '## Latency per incident (ms, acknowledged operations)',
    '',
    '| | n | p50 | p90 | p99 | max |',
    '|---|---:|---:|---:|---:|---:|',
    `| all ${p(j.latencyMs.all)}`,
    `| during a fault ${p(j.latencyMs.duringFaults)}`,
    `| outside faults ${p(j.latencyMs.outsideFaults)}`,
    '',
    '## Faults',
    '',
    '| fault | start (ms) | end (ms) | effect seen after (ms) | what was seen | recovery (ms) |',
    '|---|---:|---:|---:|---|---:|',
    ...j.faults.map((f) => `| ${f.kind} ${f.target} | ${f.start} | ${ms(f.end)} | ${ms(f.effectMs)} | ${f.seen ?? 'NOTHING'} | ${ms(f.recoveryMs)} |`),
    '',
    `Highest consumer lag: ${Object.entries(j.maxLag).map(([g, l]) => `${g} ${l}`).join(', ') || 'no sample'}.`,
    '',
    '![latency and lag](report.svg)',
    '',
  ];
  return lines.join('\n');
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2'];

/** Two panels sharing the time axis: latency per incident (dots at invoke time), lag per group (lines). */
export function renderSvg(r: ReportInput): string {
  const W = 960;
  const left = 70;
  const right = 180;
  const plotW = W - left - right;
  const top1 = 40;
  const h1 = 260;
  const top2 = top1 + h1 + 60;
  const h2 = 180;
  const H = top2 + h2 + 50;
  const tMax = Math.max(1, ...r.ops.map((o) => o.done ?? o.invoke), ...r.lag.map((l) => l.time), ...r.faults.map((f) => f.end ?? f.start));
  const x = (t: number) => left + (t / tMax) * plotW;
  const lats = r.ops.filter((o) => o.done !== null).map((o) => (o.done as number) - o.invoke);
  const latMax = Math.max(1, ...lats);
  const lagMax = Math.max(1, ...r.lag.map((l) => l.lag));
  const y1 = (v: number) => top1 + h1 - (v / latMax) * h1;
  const y2 = (v: number) => top2 + h2 - (v / lagMax) * h2;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  out.push(`<text x="${left}" y="20" font-size="15" font-weight="bold">${esc(r.plan)} (seed ${r.seed}): latency per incident and consumer lag; fault windows shaded</text>`);
  // Fault windows, across both panels.
  r.faults.forEach((f, i) => {
    const x0 = x(f.start);
    const x1 = x(f.end ?? tMax);
    out.push(`<rect x="${x0.toFixed(1)}" y="${top1}" width="${Math.max(1, x1 - x0).toFixed(1)}" height="${top2 + h2 - top1}" fill="#d62728" fill-opacity="0.12"/>`);
    out.push(`<text x="${(x0 + 3).toFixed(1)}" y="${top1 + 14 + 14 * (i % 4)}" fill="#a00">${esc(`${f.kind} ${f.target}`)}</text>`);
  });
  // Axes.
  for (const [top, h, max, label] of [
    [top1, h1, latMax, 'latency (ms)'],
    [top2, h2, lagMax, 'lag (messages)'],
  ] as const) {
    out.push(`<line x1="${left}" y1="${top + h}" x2="${left + plotW}" y2="${top + h}" stroke="black"/>`);
    out.push(`<line x1="${left}" y1="${top}" x2="${left}" y2="${top + h}" stroke="black"/>`);
    out.push(`<text x="${left - 8}" y="${top + 4}" text-anchor="end">${Math.round(max)}</text>`);
    out.push(`<text x="${left - 8}" y="${top + h}" text-anchor="end">0</text>`);
    out.push(`<text x="14" y="${top + h / 2}" transform="rotate(-90 14 ${top + h / 2})" text-anchor="middle">${label}</text>`);
    for (let k = 0; k <= 5; k++) {
      const t = (tMax * k) / 5;
      out.push(`<text x="${x(t).toFixed(1)}" y="${top + h + 15}" text-anchor="middle">${(t / 1000).toFixed(1)} s</text>`);
    }
  }
  // Latency dots: ok blue, info orange (drawn at the time it gave up).
  for (const o of r.ops) {
    if (o.done === null) continue;
    const color = o.phase === 'ok' ? '#1f77b4' : '#ff7f0e';
    out.push(`<circle cx="${x(o.invoke).toFixed(1)}" cy="${y1(o.done - o.invoke).toFixed(1)}" r="2.2" fill="${color}"><title>${esc(`${o.injection} ${o.kind} ${o.phase} ${o.done - o.invoke} ms`)}</title></circle>`);
  }
  out.push(`<circle cx="${left + plotW + 20}" cy="${top1 + 10}" r="4" fill="#1f77b4"/><text x="${left + plotW + 30}" y="${top1 + 14}">ok</text>`);
  out.push(`<circle cx="${left + plotW + 20}" cy="${top1 + 28}" r="4" fill="#ff7f0e"/><text x="${left + plotW + 30}" y="${top1 + 32}">info / fail</text>`);
  // Lag lines per group.
  const groups = [...new Set(r.lag.map((l) => l.group))];
  groups.forEach((g, i) => {
    const pts = r.lag.filter((l) => l.group === g).map((l) => `${x(l.time).toFixed(1)},${y2(l.lag).toFixed(1)}`);
    const color = COLORS[i % COLORS.length] as string;
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="1.5"/>`);
    out.push(`<line x1="${left + plotW + 12}" y1="${top2 + 10 + i * 18}" x2="${left + plotW + 28}" y2="${top2 + 10 + i * 18}" stroke="${color}" stroke-width="3"/>`);
    out.push(`<text x="${left + plotW + 32}" y="${top2 + 14 + i * 18}">${esc(g)}</text>`);
  });
  out.push(`<text x="${left + plotW / 2}" y="${H - 10}" text-anchor="middle">time since the workload began</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

/** Writes report.json, report.md and report.svg beside the history; returns their paths. */
export function writeReport(r: ReportInput): { json: string; md: string; svg: string; report: ReportJson } {
  const dir = path.dirname(r.historyFile);
  const report = buildReport(r);
  const files = { json: path.join(dir, 'report.json'), md: path.join(dir, 'report.md'), svg: path.join(dir, 'report.svg') };
  writeFileSync(files.json, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(files.md, renderMarkdown(report));
  writeFileSync(files.svg, renderSvg(r));
  return { ...files, report };
}
