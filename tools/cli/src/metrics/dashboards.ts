/**
 * The committed Grafana dashboards (deploy/grafana/dashboards/*.json) and the metric names their
 * PromQL queries use, so a test can hold them against what the services really export.
 */
import { readdirSync } from 'node:fs';
import * as path from 'node:path';

export function dashboardFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Every PromQL expression of a dashboard: its panels' targets (nested rows too) and its templating queries. */
export function dashboardExpressions(dashboard: unknown): string[] {
  const out: string[] = [];
  const visit = (v: unknown, key: string | undefined, datasource: unknown): void => {
    if (Array.isArray(v)) {
      for (const x of v) visit(x, key, datasource);
      return;
    }
    if (v === null || typeof v !== 'object') return;
    const o = v as Record<string, unknown>;
    const ds = o.datasource ?? datasource;
    if (typeof o.expr === 'string' && isPrometheus(ds)) out.push(o.expr);
    // A templating variable's query (a string, or {query: "..."}) when it reads Prometheus.
    if (key === 'list' && typeof o.query === 'string' && isPrometheus(ds)) out.push(o.query);
    if (key === 'list' && typeof (o.query as { query?: unknown } | undefined)?.query === 'string' && isPrometheus(ds)) {
      out.push((o.query as { query: string }).query);
    }
    for (const [k, x] of Object.entries(o)) if (k !== 'expr') visit(x, k, ds);
  };
  visit(dashboard, undefined, undefined);
  return out;
}

function isPrometheus(ds: unknown): boolean {
  if (ds === undefined || ds === null) return false;
  if (typeof ds === 'string') return ds.toLowerCase().includes('prometheus');
  const d = ds as { type?: unknown; uid?: unknown };
  return d.type === 'prometheus' || (typeof d.uid === 'string' && d.uid.toLowerCase().includes('prometheus'));
}

/** PromQL words that are not metric names: functions, aggregations, operators, modifiers. */
const PROMQL_WORDS = new Set([
  'abs', 'absent', 'absent_over_time', 'and', 'avg', 'avg_over_time', 'bool', 'bottomk', 'by', 'ceil', 'changes', 'clamp', 'clamp_max',
  'clamp_min', 'count', 'count_over_time', 'count_values', 'delta', 'deriv', 'floor', 'group', 'group_left', 'group_right',
  'histogram_quantile', 'idelta', 'ignoring', 'increase', 'irate', 'label_join', 'label_replace', 'last_over_time', 'max',
  'max_over_time', 'min', 'min_over_time', 'offset', 'on', 'or', 'quantile', 'quantile_over_time', 'rate', 'resets', 'round',
  'scalar', 'sort', 'sort_desc', 'stddev', 'stdvar', 'sum', 'sum_over_time', 'time', 'timestamp', 'topk', 'unless', 'vector',
  'without', 'label_values', 'query_result', 'metrics', 'label_names', 'inf', 'nan',
]);

/**
 * The metric names a PromQL expression (or a Grafana `label_values(metric, label)` query)
 * selects: every identifier outside label matchers `{…}`, ranges `[…]`, `by/without (…)`
 * groupings and strings that is not a PromQL word, a number or a Grafana variable.
 */
export function promqlMetricNames(expr: string): Set<string> {
  let s = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{?[A-Za-z0-9_:]+\}?/g, ' ')
    .replace(/(^|[^A-Za-z0-9_:])\d+(\.\d+)?([eE][+-]?\d+)?[a-zA-Z]*/g, '$1 ');
  // label_values(metric, label): the second argument is a label.
  s = s.replace(/label_values\s*\(([^,)]*),[^)]*\)/g, ' $1 ');
  const out = new Set<string>();
  for (const m of s.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const w = m[0];
    if (PROMQL_WORDS.has(w.toLowerCase())) continue;
    // A duration or number suffix (5m, 1e3) was removed with its brackets; skip stray ones.
    if (/^\d/.test(w)) continue;
    out.add(w);
  }
  return out;
}

export function dashboardMetricNames(dashboard: unknown): Set<string> {
  const out = new Set<string>();
  for (const e of dashboardExpressions(dashboard)) for (const n of promqlMetricNames(e)) out.add(n);
  return out;
}
