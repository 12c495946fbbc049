/**
 * What a person sees: each injection's propagation as a tree that reads like the kernel's
 * call trace (memory_failure → pmem → dax holder → dm → xfs rmap owners → kill/unmap →
 * action_result), with offsets, errno and signals, then a pass/fail summary with every
 * mismatch explained. Colours only when asked (on a terminal).
 */
import {
  hex,
  KERNEL_FUNCTION,
  mfFlagsToString,
  rcToString,
  U64_MAX,
  type OpName,
  type Rc,
  type TraceCall,
  type TraceNode,
} from '@mfsim/kernel-model';
import type { Mismatch } from './compare';
import type { ScenarioRun } from './run-scenario';
import type { InjectionSpec } from './scenario.types';

export interface RenderOptions {
  readonly color: boolean;
  /** Include set-up traces (mounts, faults) and low-level lookups. */
  readonly verbose: boolean;
  /** The link to an incident's trace (by its uuid), printed under each incident that ran. */
  readonly traceLink?: (incidentId: string) => string | undefined;
}

const ANSI = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;
type Style = keyof typeof ANSI;

function paint(opts: RenderOptions, style: Style, text: string): string {
  return opts.color ? `\u001b[${ANSI[style]}m${text}\u001b[0m` : text;
}

/** Lookups that clutter the tree unless --verbose. */
const QUIET_OPS = new Set<OpName>(['pmem.getDevPagemap', 'pmem.pmemPfnHasBadblocks']);

const HEX_ARGS = new Set(['pfn', 'addr', 'start', 'offset', 'len']);

function formatArg(key: string, value: unknown): string {
  if (key === 'mfFlags' && typeof value === 'number') return `flags=${mfFlagsToString(value).replace(/MF_/g, '').replace(' (', '(')}`;
  if (typeof value === 'bigint') {
    if (key === 'len' && value === U64_MAX) return 'len=U64_MAX';
    return `${key}=${HEX_ARGS.has(key) ? hex(value) : value.toString()}`;
  }
  if (value === null || value === undefined) return `${key}=null`;
  if (typeof value === 'object') return `${key}=${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
  return `${key}=${String(value)}`;
}

function formatArgs(op: OpName, args: unknown): string {
  if (op === 'xfs.xfsMount' || op === 'dm.dmCreate') return String((args as { fs?: string; name?: string }).fs ?? (args as { name: string }).name);
  if (op === 'dax.fsDaxGetByBdev') {
    const a = args as { bdev: { partition: string | null; disk: string }; holder: { name: string } | null };
    return `${a.bdev.partition ?? a.bdev.disk}, holder=${a.holder ? a.holder.name : 'NULL'}`;
  }
  return Object.entries(args as Record<string, unknown>)
    .map(([k, v]) => formatArg(k, v))
    .join(', ');
}

function isRc(v: unknown): v is Rc {
  return v === 0 || (typeof v === 'string' && /^E[A-Z]+$/.test(v));
}

function formatResult(opts: RenderOptions, result: unknown): string {
  if (result === undefined) return '';
  if (isRc(result)) return ` = ${result === 0 ? paint(opts, 'green', '0') : paint(opts, 'red', rcToString(result))}`;
  if (typeof result === 'boolean') return ` = ${result}`;
  if (result === null) return ' = NULL';
  if (typeof result === 'object') {
    const r = result as Record<string, unknown>;
    if ('rc' in r && r.rc !== 0 && isRc(r.rc)) return ` = ${paint(opts, 'red', rcToString(r.rc))}`;
    if ('ok' in r) return r.ok ? ` = ${paint(opts, 'green', 'ok')}` : ` = ${paint(opts, 'red', `VM_FAULT_${String(r.vmFault)} (${rcToString(r.errno as Rc)})`)}`;
    if ('pfn' in r && typeof r.pfn === 'bigint') return ` = pfn ${hex(r.pfn)}`;
    if ('daxDev' in r && 'partOff' in r) return ` = ${String(r.daxDev)} (part_off ${hex(r.partOff as bigint)})`;
    if ('type' in r) return ` = ${String(r.type)}${r.type === 'mapped' ? ` ${String(r.daxDev)} pgoff ${String(r.daxPgoff)}${r.shared ? ' IOMAP_F_SHARED' : ''}` : ''}`;
    if ('disk' in r) return ` = ${String(r.disk)}${r.pfnValid ? '' : ' (metadata prefix)'}`;
    if ('mountError' in r) return ` = ${r.mountError ? paint(opts, 'red', `-${String(r.mountError)}`) : `0${r.dax ? ' (dax)' : ''}`}`;
  }
  return ` = ${String(result)}`;
}

function logStyle(text: string): Style {
  if (text.includes('Sending SIGBUS') || text.includes('SIGBUS')) return 'yellow';
  if (text.includes('Recovered')) return 'green';
  if (text.includes('Failed') || text.includes('Shutting down') || text.includes('panic')) return 'red';
  return 'dim';
}

function renderNode(node: TraceNode, prefix: string, last: boolean, opts: RenderOptions, lines: string[]): void {
  const branch = prefix === '' && lines.length === 0 ? '' : last ? '└─ ' : '├─ ';
  if (node.kind === 'log') {
    lines.push(`${prefix}${branch}${paint(opts, logStyle(node.text), node.text)}`);
    return;
  }
  const fn = KERNEL_FUNCTION[node.op];
  lines.push(`${prefix}${branch}${paint(opts, 'cyan', fn)}(${formatArgs(node.op, node.args)})${formatResult(opts, node.result)}`);
  const children = node.children.filter((c) => opts.verbose || c.kind === 'log' || !QUIET_OPS.has(c.op));
  const childPrefix = prefix + (branch === '' ? '' : last ? '   ' : '│  ');
  children.forEach((c, i) => renderNode(c, childPrefix, i === children.length - 1, opts, lines));
}

export function renderTrace(trace: TraceCall, opts: RenderOptions): string[] {
  const lines: string[] = [];
  renderNode(trace, '', true, opts, lines);
  return lines;
}

export function describeInjection(inj: InjectionSpec): string {
  switch (inj.kind) {
    case 'madvise':
      return `madvise(MADV_HWPOISON) pid ${inj.pid} addr ${hex(inj.addr)} pages ${inj.pages}`;
    case 'corruptPfn':
      return `debugfs hwpoison/corrupt-pfn ${hex(inj.pfn)}`;
    case 'mce':
      return `machine check: pid ${inj.pid} consumed pfn ${hex(inj.pfn)}${inj.ripv ? '' : ' (RIPV clear)'}`;
    case 'background':
      return `background error (patrol scrub) at pfn ${hex(inj.pfn)}`;
    case 'unbind':
      return `unbind ${inj.device} by pid ${inj.pid}`;
    case 'access':
      return `load by pid ${inj.pid} at ${hex(inj.addr)}`;
  }
}

function formatMismatchValue(v: unknown): string {
  return v === null || v === undefined ? 'nothing' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

export function explainMismatch(m: Mismatch): string {
  if (m.path === 'signals' && m.expected === null) return `signals: unexpected ${formatMismatchValue(m.actual)}`;
  if (m.path.startsWith('signals[') && m.actual === null) return `${m.path}: expected ${formatMismatchValue(m.expected)} was not sent`;
  return `${m.path}: expected ${formatMismatchValue(m.expected)}, got ${formatMismatchValue(m.actual)}`;
}

/** The whole human report of one scenario run. */
export function renderRun(run: ScenarioRun, opts: RenderOptions): string {
  const lines: string[] = [];
  lines.push(paint(opts, 'bold', `━━ ${run.scenario.name}`) + paint(opts, 'dim', `  (${run.scenario.file})`));
  if (opts.verbose) {
    lines.push(paint(opts, 'dim', '  set-up:'));
    for (const t of run.setupTraces) for (const l of renderTrace(t, opts)) lines.push(`    ${l}`);
  }
  for (const fs of Object.entries(run.outcome.filesystems)) {
    const [name, f] = fs;
    if (f.mountError) lines.push(`  ${paint(opts, 'red', `mount ${name}: -${f.mountError}`)}`);
  }
  for (const inj of run.injections) {
    lines.push('');
    lines.push(`${paint(opts, 'magenta', `▶ ${inj.injection.id}`)} ${describeInjection(inj.injection)}  → rc ${formatRc(opts, inj.rc)}`);
    if (inj.trace) for (const l of renderTrace(inj.trace, opts)) lines.push(`  ${l}`);
    else lines.push(paint(opts, 'dim', '  (not run: the kernel had panicked)'));
    const link = inj.incident.status === 'complete' ? opts.traceLink?.(inj.incident.incident) : undefined;
    if (link !== undefined) lines.push(`  ${paint(opts, 'dim', 'trace')} ${link}`);
  }
  lines.push('');
  if (run.pass) {
    lines.push(`${paint(opts, 'green', 'PASS')} ${run.scenario.name}`);
  } else {
    lines.push(`${paint(opts, 'red', 'FAIL')} ${run.scenario.name}: ${run.mismatches.length} mismatch(es)`);
    for (const m of run.mismatches) lines.push(`  ${paint(opts, 'red', '✗')} ${explainMismatch(m)}`);
  }
  return lines.join('\n');
}

function formatRc(opts: RenderOptions, rc: Rc | 'PANIC' | null): string {
  if (rc === null) return paint(opts, 'dim', 'not run');
  if (rc === 'PANIC') return paint(opts, 'red', 'kernel panic');
  return rc === 0 ? paint(opts, 'green', '0') : paint(opts, 'red', rc);
}
