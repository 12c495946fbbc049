import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { dashboardExpressions, dashboardMetricNames, promqlMetricNames } from './dashboards';
import { parseExposition, sampleValue } from './exposition';

describe('promqlMetricNames', () => {
  const cases: [string, string[]][] = [
    ['sum(rate(mfsim_incidents_started_total[$__rate_interval]))', ['mfsim_incidents_started_total']],
    [
      'histogram_quantile(0.99, sum by (le, kernel_function) (rate(mfsim_hop_latency_seconds_bucket{service=~"$service"}[5m])))',
      ['mfsim_hop_latency_seconds_bucket'],
    ],
    ['sum without (instance) (mfsim_consumer_lag) > 10 or vector(0)', ['mfsim_consumer_lag']],
    ['increase(mfsim_signals_sent_total{si_code="BUS_MCEERR_AR"}[1h] offset 5m) / ignoring(x) up', ['mfsim_signals_sent_total', 'up']],
    ['label_values(mfsim_hop_steps_total, service)', ['mfsim_hop_steps_total']],
    ['1e3 * mfsim_a_total + 2.5', ['mfsim_a_total']],
  ];
  for (const [expr, want] of cases) {
    it(expr, () => assert.deepEqual([...promqlMetricNames(expr)].sort(), want.sort()));
  }
});

describe('dashboardExpressions', () => {
  it('reads the Prometheus targets of panels, nested rows and templating, not the other datasources', () => {
    const dash = {
      panels: [
        { datasource: { type: 'prometheus', uid: 'prometheus' }, targets: [{ expr: 'a_total' }] },
        { type: 'row', panels: [{ datasource: { type: 'prometheus', uid: 'prometheus' }, targets: [{ expr: 'b_total' }] }] },
        { datasource: { type: 'jaeger', uid: 'jaeger' }, targets: [{ query: 'x' }] },
      ],
      templating: { list: [{ datasource: { type: 'prometheus', uid: 'prometheus' }, query: { query: 'label_values(c_total, service)' } }] },
    };
    assert.deepEqual(dashboardExpressions(dash), ['a_total', 'b_total', 'label_values(c_total, service)']);
    assert.deepEqual([...dashboardMetricNames(dash)].sort(), ['a_total', 'b_total', 'c_total']);
  });
});

describe('parseExposition', () => {
  it('reads samples, labels (escaped), +Inf and sums matching samples', () => {
    const e = parseExposition(
      [
        '# HELP mfsim_x_total x',
        '# TYPE mfsim_x_total counter',
        'mfsim_x_total{a="1",b="q\\"uote"} 2',
        'mfsim_x_total{a="1",b="c"} 3',
        'mfsim_h_bucket{le="+Inf"} 4',
        'plain 7',
        '',
      ].join('\n'),
    );
    assert.equal(sampleValue(e, 'mfsim_x_total', { a: '1' }), 5);
    assert.equal(sampleValue(e, 'mfsim_x_total', { b: 'q"uote' }), 2);
    assert.equal(sampleValue(e, 'mfsim_x_total', { a: '2' }), undefined);
    assert.equal(sampleValue(e, 'plain', {}), 7);
    assert.deepEqual([...e.names].sort(), ['mfsim_h_bucket', 'mfsim_x_total', 'plain']);
  });
  it('refuses a line that is not a sample, naming it', () => {
    assert.throws(() => parseExposition('mfsim_x_total{a="1"}'), /not a Prometheus sample line: "mfsim_x_total\{a=\\"1\\"\}"/);
  });
});
