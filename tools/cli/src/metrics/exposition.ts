/**
 * The Prometheus text exposition format (what `GET /metrics` answers), read back: every sample
 * with its labels. Enough for tests and checks; not a full parser (no exemplars, no escapes in
 * metric names).
 */

export interface Sample {
  readonly name: string;
  readonly labels: ReadonlyMap<string, string>;
  readonly value: number;
}

export interface Exposition {
  readonly text: string;
  readonly samples: readonly Sample[];
  /** Every sample name (histograms: `_bucket`, `_sum`, `_count`; counters: `_total`). */
  readonly names: ReadonlySet<string>;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function unescape(v: string): string {
  return v.replace(/\\(.)/g, (_m, c: string) => (c === 'n' ? '\n' : c));
}

export function parseExposition(text: string): Exposition {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const m = SAMPLE.exec(trimmed);
    if (!m) throw new Error(`not a Prometheus sample line: ${JSON.stringify(trimmed.slice(0, 120))}`);
    const labels = new Map<string, string>();
    for (const l of (m[2] ?? '').matchAll(LABEL)) labels.set(l[1] as string, unescape(l[2] as string));
    const raw = m[3] as string;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    samples.push({ name: m[1] as string, labels, value });
  }
  return { text, samples, names: new Set(samples.map((s) => s.name)) };
}

/** The sum of the samples `name` whose labels include `labels`; undefined when none matches. */
export function sampleValue(e: Exposition, name: string, labels: Record<string, string>): number | undefined {
  let sum: number | undefined;
  for (const s of e.samples) {
    if (s.name !== name) continue;
    if (!Object.entries(labels).every(([k, v]) => s.labels.get(k) === v)) continue;
    sum = (sum ?? 0) + s.value;
  }
  return sum;
}
