/**
 * `mfsim ui`: serves the incident page on 127.0.0.1 until interrupted. It reads the incidents the
 * distributed stack recorded in PostgreSQL (DATABASE_URL, else the stack's state.json, else the
 * default), or, with --scenario, runs scenario files in-process with the embedded model and shows
 * theirs. --history adds a chaos run's faults to the timeline. Problems are one line, exit 2.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';

import { formatHistoryProblem, parseHistory } from '@mfsim/scenario';

import { scenarioFilesUnder } from '../distributed/scenario-files';
import { traceUrlTemplate } from '../distributed/trace-link';
import { checkDatabaseUrl, databaseProblem, DEFAULT_DATABASE_URL, redactUrl } from '../incident/incident-format';
import type { FaultSpan } from './ui-model';
import { startUiServer } from './ui-server';
import { EmbeddedSource, loadScenario, PgSource, SchemaTooOldError, type EmbeddedScenario, type UiSource } from './ui-source';

export const UI_USAGE = 'usage: mfsim ui [--port N] [--host ADDR] [--scenario FILE|DIR]... [--history FILE]';
export const DEFAULT_UI_PORT = 7400;

export interface UiArgs {
  readonly port: number;
  readonly host: string;
  readonly scenarios: string[];
  readonly history: string | null;
}

export function parseUiArgs(args: readonly string[]): UiArgs | { problem: string } {
  let port = DEFAULT_UI_PORT;
  let host = '127.0.0.1';
  let history: string | null = null;
  const scenarios: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const flag = eq < 0 ? a : a.slice(0, eq);
    const value = (): string | undefined => (eq < 0 ? args[++i] : a.slice(eq + 1));
    if (flag === '--port') {
      const v = value();
      if (v === undefined || !/^[0-9]{1,5}$/.test(v) || Number(v) > 65535) return { problem: `--port needs a port number from 0 to 65535, got ${v === undefined ? 'nothing' : JSON.stringify(v)}` };
      port = Number(v);
    } else if (flag === '--host') {
      const v = value();
      if (v === undefined || v === '' || v.startsWith('-')) return { problem: '--host needs an address (e.g. 127.0.0.1)' };
      host = v;
    } else if (flag === '--scenario') {
      const v = value();
      if (v === undefined || v === '' || v.startsWith('-')) return { problem: '--scenario needs a scenario file or folder' };
      scenarios.push(v);
    } else if (flag === '--history') {
      const v = value();
      if (v === undefined || v === '' || v.startsWith('-')) return { problem: '--history needs a chaos history file (JSON Lines)' };
      history = v;
    } else return { problem: `unknown ${a.startsWith('-') ? 'option' : 'argument'} ${a}` };
  }
  return { port, host, scenarios, history };
}

/** Faults of a chaos history on absolute times: start (and effect, end) per kind+target, in order. */
export function faultSpans(text: string): FaultSpan[] | { problem: string } {
  const parsed = parseHistory(text);
  if (!parsed.ok) return { problem: formatHistoryProblem(parsed.problem) };
  const t0 = Date.parse(parsed.history.run.startedAt);
  if (!Number.isFinite(t0)) return { problem: `run.startedAt ${JSON.stringify(parsed.history.run.startedAt)} is not a time` };
  const open = new Map<string, { kind: string; target: string; startMs: number; effectMs: number | null; endMs: number | null; seen: string | null }>();
  const out: FaultSpan[] = [];
  for (const ev of parsed.history.events) {
    if (ev.type !== 'fault') continue;
    const key = `${ev.fault.kind}\u0000${ev.fault.target}`;
    if (ev.phase === 'start') {
      const f = { kind: ev.fault.kind, target: ev.fault.target, startMs: t0 + ev.time, effectMs: null, endMs: null, seen: null };
      open.set(key, f);
      out.push(f);
    } else {
      const f = open.get(key);
      if (!f) continue;
      if (ev.phase === 'effect') {
        f.effectMs = t0 + ev.time;
        f.seen = ev.seen ?? null;
      } else {
        f.endMs = t0 + ev.time;
        open.delete(key);
      }
    }
  }
  return out;
}

interface StackStateFile {
  databaseUrl?: string;
}

function readStackState(env: NodeJS.ProcessEnv): StackStateFile {
  const repo = path.resolve(__dirname, '..', '..', '..', '..');
  const file = path.join(env['MFSIM_STACK_DIR'] ?? path.join(repo, '.mfsim', 'stack'), 'state.json');
  if (!existsSync(file)) return {};
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as StackStateFile;
  } catch {
    return {};
  }
}

/**
 * The trace link template: the one `mfsim scenario run` and `mfsim incident` use
 * (distributed/trace-link.ts: MFSIM_TRACE_URL, else the Zipkin `mfsim stack up` started), or null.
 */
export function traceTemplate(env: NodeJS.ProcessEnv): string | null {
  try {
    return traceUrlTemplate(env) ?? null;
  } catch (err) {
    throw new UiProblem((err as Error).message);
  }
}

class UiProblem extends Error {}

function collectScenarios(given: readonly string[]): EmbeddedScenario[] {
  const out: EmbeddedScenario[] = [];
  for (const p of given) {
    if (!existsSync(p)) throw new UiProblem(`--scenario: ${p}: no such file or folder`);
    const files = statSync(p).isDirectory() ? scenarioFilesUnder(p) : [p];
    if (files.length === 0) throw new UiProblem(`--scenario: ${p}: no scenario files (.yaml) in it`);
    for (const f of files) {
      const loaded = loadScenario(f, readFileSync(f, 'utf8'));
      if ('problem' in loaded) throw new UiProblem(`--scenario: ${loaded.problem}`);
      out.push(loaded);
    }
  }
  return out;
}

export async function runUiCommand(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const parsed = parseUiArgs(args);
  if ('problem' in parsed) {
    process.stderr.write(`mfsim ui: ${parsed.problem}\n${UI_USAGE}\n`);
    return 2;
  }
  let source: UiSource | undefined;
  try {
    let faults: FaultSpan[] = [];
    if (parsed.history) {
      if (!existsSync(parsed.history)) throw new UiProblem(`--history: ${parsed.history}: no such file`);
      const spans = faultSpans(readFileSync(parsed.history, 'utf8'));
      if ('problem' in spans) throw new UiProblem(`--history: ${parsed.history}: ${spans.problem}`);
      faults = spans;
    }
    const state = readStackState(env);
    let where: string;
    if (parsed.scenarios.length > 0) {
      const scenarios = collectScenarios(parsed.scenarios);
      const embedded = new EmbeddedSource();
      embedded.run(scenarios);
      source = embedded;
      where = `${scenarios.length} scenario file(s) run with the embedded model`;
    } else {
      const url = env['DATABASE_URL']?.trim() || state.databaseUrl || DEFAULT_DATABASE_URL;
      const bad = checkDatabaseUrl(url);
      if (bad) throw new UiProblem(bad);
      try {
        source = await PgSource.open({ databaseUrl: url, traceTemplate: traceTemplate(env) });
      } catch (err) {
        throw new UiProblem(err instanceof SchemaTooOldError ? `the database at ${redactUrl(url)}: ${err.message}` : databaseProblem(err, url).message);
      }
      where = `incidents in ${redactUrl(url)}`;
    }
    let server;
    try {
      server = await startUiServer({ source, faults, historyFile: parsed.history, host: parsed.host, port: parsed.port });
    } catch (err) {
      const code = (err as { code?: string }).code;
      throw new UiProblem(
        code === 'EADDRINUSE'
          ? `port ${parsed.port} on ${parsed.host} is in use (choose another with --port N)`
          : `cannot listen on ${parsed.host}:${parsed.port}: ${(err as Error).message}`,
      );
    }
    process.stdout.write(`mfsim ui: ${server.url} (${where}${faults.length ? `, ${faults.length} chaos fault(s)` : ''}); Ctrl-C stops it\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await server.close();
    return 0;
  } catch (err) {
    process.stderr.write(`mfsim ui: ${err instanceof UiProblem ? err.message : err instanceof Error ? err.message.split('\n')[0] : String(err)}\n`);
    return 2;
  } finally {
    await source?.close().catch(() => undefined);
  }
}
