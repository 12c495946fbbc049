/**
 * The history of a chaos run (docs/chaos-history.md): JSON Lines, one object per line — a `run`
 * header, `op` lines (Jepsen-style invoke, then ok / fail / info), `fault` lines (start, effect,
 * end), `lag` samples and one `final` line with the distributed outcome. Pure: the caller reads
 * the file; `parseHistory` checks every line and names the first bad one (line number, field).
 */

export type OpPhase = 'invoke' | 'ok' | 'fail' | 'info';
export type FaultPhase = 'start' | 'effect' | 'end';

export interface HistoryRun {
  readonly type: 'run';
  /** A path to a scenario file, or the scenario's YAML text itself (it then contains a newline). */
  readonly scenario: string;
  readonly seed: number | string;
  readonly startedAt: string;
  readonly line: number;
}

export interface HistoryOp {
  readonly type: 'op';
  readonly phase: OpPhase;
  /** Milliseconds since the run started. */
  readonly time: number;
  /** The id of the scenario injection this operation sent. */
  readonly injection: string;
  /** The incident uuid the operation was sent as. */
  readonly incident: string;
  /** The injection's return code, on `ok` lines (0, an errno name, 'PANIC' or null). */
  readonly rc?: unknown;
  /** Anything the runner saw of the incident's result (kept, not compared). */
  readonly outcome?: Record<string, unknown>;
  readonly line: number;
}

export interface FaultRef {
  readonly kind: string;
  readonly target: string;
}

export interface HistoryFault {
  readonly type: 'fault';
  readonly phase: FaultPhase;
  readonly time: number;
  readonly fault: FaultRef;
  /** What showed that the fault took effect (on `effect` lines). */
  readonly seen?: string;
  readonly line: number;
}

export interface HistoryLag {
  readonly type: 'lag';
  readonly time: number;
  /** A Kafka consumer group. */
  readonly group: string;
  /** Messages not yet consumed by the group, over all its partitions. */
  readonly lag: number;
  readonly line: number;
}

/** What the stack recorded of one incident (its chain records). */
export interface IncidentRecord {
  readonly incident: string;
  readonly injection?: string;
  /** Signals sent while handling the incident. */
  readonly signals: number;
  /** The page-table entries the incident unmapped, each as often as it was unmapped. */
  readonly unmaps: { pid: number; addr: string }[];
}

export interface HistoryFinal {
  readonly type: 'final';
  /** The distributed outcome as `outcomeToJson` writes it. */
  readonly state: Record<string, unknown>;
  readonly records?: IncidentRecord[];
  readonly line: number;
}

export type HistoryEvent = HistoryOp | HistoryFault | HistoryLag;

export interface History {
  readonly run: HistoryRun;
  /** op, fault and lag lines in file order. */
  readonly events: HistoryEvent[];
  readonly final: HistoryFinal;
}

export interface HistoryProblem {
  /** 1-based line number; 0 for the file as a whole. */
  readonly line: number;
  /** The field at fault ('' for the line as a whole). */
  readonly field: string;
  readonly message: string;
}

export type ParseHistoryResult = { ok: true; history: History } | { ok: false; problem: HistoryProblem };

/** `line 3: field "phase": must be one of invoke, ok, fail, info, got "done"` */
export function formatHistoryProblem(p: HistoryProblem): string {
  const where = p.line > 0 ? `line ${p.line}: ` : '';
  return `${where}${p.field ? `field "${p.field}": ` : ''}${p.message}`;
}

class Bad extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Obj, key: string, prefix = ''): string {
  const v = o[key];
  if (typeof v !== 'string' || v === '') throw new Bad(prefix + key, `must be a non-empty string, got ${describe(v)}`);
  return v;
}

function time(o: Obj): number {
  const v = o.time;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Bad('time', `must be a number of milliseconds >= 0, got ${describe(v)}`);
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, values: readonly T[]): T {
  const v = o[key];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw new Bad(key, `must be one of ${values.join(', ')}, got ${describe(v)}`);
  return v as T;
}

const OP_PHASES: readonly OpPhase[] = ['invoke', 'ok', 'fail', 'info'];
const FAULT_PHASES: readonly FaultPhase[] = ['start', 'effect', 'end'];
const TYPES = ['run', 'op', 'fault', 'lag', 'final'] as const;

function parseRecords(v: unknown): IncidentRecord[] {
  if (!Array.isArray(v)) throw new Bad('records', `must be an array, got ${describe(v)}`);
  return v.map((r: unknown, i) => {
    const p = `records[${i}].`;
    if (!isObj(r)) throw new Bad(`records[${i}]`, `must be an object, got ${describe(r)}`);
    const incident = str(r, 'incident', p);
    const injection = r.injection === undefined ? undefined : str(r, 'injection', p);
    if (typeof r.signals !== 'number' || !Number.isInteger(r.signals) || r.signals < 0)
      throw new Bad(`${p}signals`, `must be an integer >= 0, got ${describe(r.signals)}`);
    const unmapsRaw = r.unmaps ?? [];
    if (!Array.isArray(unmapsRaw)) throw new Bad(`${p}unmaps`, `must be an array, got ${describe(unmapsRaw)}`);
    const unmaps = unmapsRaw.map((u: unknown, j) => {
      if (!isObj(u) || typeof u.pid !== 'number' || typeof u.addr !== 'string')
        throw new Bad(`${p}unmaps[${j}]`, `must be {"pid": number, "addr": "0x..."}, got ${describe(u)}`);
      return { pid: u.pid, addr: u.addr.toLowerCase() };
    });
    return { incident, ...(injection !== undefined ? { injection } : {}), signals: r.signals, unmaps };
  });
}

function parseLine(o: Obj, line: number): HistoryRun | HistoryEvent | HistoryFinal {
  const type = oneOf(o, 'type', TYPES);
  switch (type) {
    case 'run': {
      const scenario = str(o, 'scenario');
      const seed = o.seed;
      if (typeof seed !== 'number' && typeof seed !== 'string') throw new Bad('seed', `must be a number or a string, got ${describe(seed)}`);
      const startedAt = str(o, 'startedAt');
      return { type, scenario, seed, startedAt, line };
    }
    case 'op': {
      const phase = oneOf(o, 'phase', OP_PHASES);
      const t = time(o);
      const injection = str(o, 'injection');
      const incident = str(o, 'incident');
      if (o.outcome !== undefined && !isObj(o.outcome)) throw new Bad('outcome', `must be an object, got ${describe(o.outcome)}`);
      if (o.rc !== undefined && phase !== 'ok') throw new Bad('rc', `only an ok line has an rc (this one is ${phase})`);
      return {
        type,
        phase,
        time: t,
        injection,
        incident,
        ...(o.rc !== undefined ? { rc: o.rc } : {}),
        ...(o.outcome !== undefined ? { outcome: o.outcome as Obj } : {}),
        line,
      };
    }
    case 'fault': {
      const phase = oneOf(o, 'phase', FAULT_PHASES);
      const t = time(o);
      if (!isObj(o.fault)) throw new Bad('fault', `must be {"kind": ..., "target": ...}, got ${describe(o.fault)}`);
      const fault = { kind: str(o.fault, 'kind', 'fault.'), target: str(o.fault, 'target', 'fault.') };
      if (o.seen !== undefined && typeof o.seen !== 'string') throw new Bad('seen', `must be a string, got ${describe(o.seen)}`);
      return { type, phase, time: t, fault, ...(o.seen !== undefined ? { seen: o.seen as string } : {}), line };
    }
    case 'lag': {
      const t = time(o);
      const group = str(o, 'group');
      if (typeof o.lag !== 'number' || !Number.isInteger(o.lag) || o.lag < 0) throw new Bad('lag', `must be an integer >= 0, got ${describe(o.lag)}`);
      return { type, time: t, group, lag: o.lag, line };
    }
    case 'final': {
      if (!isObj(o.state)) throw new Bad('state', `must be the outcome object, got ${describe(o.state)}`);
      for (const key of ['signals', 'actionResults', 'pages', 'ptes'])
        if (!Array.isArray(o.state[key])) throw new Bad(`state.${key}`, `must be an array, got ${describe(o.state[key])}`);
      for (const key of ['filesystems', 'devices'])
        if (!isObj(o.state[key])) throw new Bad(`state.${key}`, `must be an object, got ${describe(o.state[key])}`);
      const records = o.records === undefined ? undefined : parseRecords(o.records);
      return { type, state: o.state, ...(records ? { records } : {}), line };
    }
  }
}

/** Parses a whole history; the first problem found ends the parse. */
export function parseHistory(text: string): ParseHistoryResult {
  let run: HistoryRun | null = null;
  let final: HistoryFinal | null = null;
  const events: HistoryEvent[] = [];
  /** incident uuid → the line of its invoke and whether it has completed. */
  const open = new Map<string, { injection: string; done: boolean }>();
  const lines = text.split('\n');
  const fail = (line: number, field: string, message: string): ParseHistoryResult => ({ ok: false, problem: { line, field, message } });
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const raw = (lines[i] as string).trim();
    if (raw === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      return fail(n, '', `not JSON (${(e as Error).message})`);
    }
    if (!isObj(value)) return fail(n, '', `must be a JSON object, got ${describe(value)}`);
    let parsed: HistoryRun | HistoryEvent | HistoryFinal;
    try {
      parsed = parseLine(value, n);
    } catch (e) {
      if (e instanceof Bad) return fail(n, e.field, e.message);
      throw e;
    }
    if (final) return fail(n, 'type', `nothing may follow the final line (line ${final.line})`);
    if (parsed.type === 'run') {
      if (run) return fail(n, 'type', `a second run line (the first is line ${run.line})`);
      run = parsed;
      continue;
    }
    if (!run) return fail(n, 'type', 'the first line must be the run line');
    if (parsed.type === 'final') {
      final = parsed;
      continue;
    }
    if (parsed.type === 'op') {
      const o = open.get(parsed.incident);
      if (parsed.phase === 'invoke') {
        if (o) return fail(n, 'incident', `incident ${parsed.incident} was already invoked`);
        open.set(parsed.incident, { injection: parsed.injection, done: false });
      } else {
        if (!o) return fail(n, 'incident', `${parsed.phase} for incident ${parsed.incident}, which was never invoked`);
        if (o.injection !== parsed.injection) return fail(n, 'injection', `incident ${parsed.incident} was invoked as ${o.injection}, not ${parsed.injection}`);
        if (o.done) return fail(n, 'phase', `incident ${parsed.incident} has already completed`);
        o.done = true;
      }
    }
    events.push(parsed);
  }
  if (!run) return fail(0, '', 'empty history: no run line');
  if (!final) return fail(lines.length, 'type', 'no final line (the history ends before the final state)');
  return { ok: true, history: { run, events, final } };
}

/** Writes one history line (the form `parseHistory` reads): the `line` field is dropped. */
export function historyLine(event: Omit<HistoryRun, 'line'> | Omit<HistoryOp, 'line'> | Omit<HistoryFault, 'line'> | Omit<HistoryLag, 'line'> | Omit<HistoryFinal, 'line'>): string {
  const { line, ...rest } = event as { line?: number };
  void line;
  return JSON.stringify(rest);
}
