import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { backoffDelay } from './backoff';

describe('backoffDelay', () => {
  it('doubles from the initial delay and stops at the cap', () => {
    const backoff = { initialMs: 500, maxMs: 3000 };
    assert.deepEqual([1, 2, 3, 4, 5].map((attempt) => backoffDelay(backoff, attempt)), [500, 1000, 2000, 3000, 3000]);
  });
});
