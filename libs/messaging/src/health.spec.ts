import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { down, runHealthChecks, UP } from './health';

describe('runHealthChecks', () => {
  it('is ok when every check is up', async () => {
    const report = await runHealthChecks('dax-core', { kafka: async () => UP, redis: async () => UP });
    assert.deepEqual(report, { status: 'ok', service: 'dax-core', checks: { kafka: UP, redis: UP } });
  });

  it('reports a down and a throwing check as down, and the whole as error', async () => {
    const report = await runHealthChecks('xfs-fs', {
      kafka: async () => down('kafka: broker gone'),
      postgres: async () => {
        throw new Error('ECONNREFUSED');
      },
      redis: async () => UP,
    });
    assert.equal(report.status, 'error');
    assert.deepEqual(report.checks, {
      kafka: { status: 'down', error: 'kafka: broker gone' },
      postgres: { status: 'down', error: 'postgres: ECONNREFUSED' },
      redis: UP,
    });
  });
});
