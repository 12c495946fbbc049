import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { summarizeHealth } from './health';

describe('summarizeHealth', () => {
  it('says ok, or names the checks that are down, or quotes a non-JSON answer', () => {
    assert.equal(summarizeHealth(200, '{"status":"ok","service":"xfs-fs","checks":{"kafka":{"status":"up"}}}'), '200 ok');
    assert.equal(
      summarizeHealth(503, '{"status":"error","checks":{"kafka":{"status":"up"},"redis":{"status":"down","error":"ECONNREFUSED"}}}'),
      '503 error: redis down (ECONNREFUSED)',
    );
    assert.equal(summarizeHealth(404, 'Cannot GET /health'), '404 Cannot GET /health');
  });
});
