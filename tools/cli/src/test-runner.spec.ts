/**
 * tools/test-runner/run-tests.js (issue 7 §3): its summary lines agree with its exit code, also
 * when a suite fails outside any test (a describe callback that throws counts in no `# fail`).
 * The runner is run on a scratch layout holding one such compiled spec.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

const REPO = resolve(__dirname, '../../..');
const scratch = mkdtempSync(join(tmpdir(), 'mfsim-runner-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function layout(specs: Record<string, string>): string {
  const root = mkdtempSync(join(scratch, 'root-'));
  mkdirSync(join(root, 'tools/test-runner'), { recursive: true });
  copyFileSync(join(REPO, 'tools/test-runner/run-tests.js'), join(root, 'tools/test-runner/run-tests.js'));
  mkdirSync(join(root, 'libs/x/dist'), { recursive: true });
  for (const [name, text] of Object.entries(specs)) writeFileSync(join(root, 'libs/x/dist', name), text);
  return root;
}

function runUnit(root: string): { code: number | null; summary: string[] } {
  // Without NODE_TEST_CONTEXT, or the nested `node --test` would report into this test run.
  const { NODE_TEST_CONTEXT: _context, ...env } = process.env;
  const r = spawnSync(process.execPath, [join(root, 'tools/test-runner/run-tests.js'), '--unit'], { cwd: root, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, summary: r.stdout.split('\n').filter((l) => / unit: \d+ passed|^tests: /.test(l)) };
}

describe('run-tests.js: counts agree with the exit code', () => {
  it('a suite whose describe callback throws: "1 failed" on both lines, exit 1', () => {
    const root = layout({
      'a.spec.js': "const { describe, it } = require('node:test');\ndescribe('boom', () => { require('node:fs').readdirSync('/nonexistent-mfsim'); it('a', () => {}); });\n",
      'b.spec.js': "const { it } = require('node:test');\nit('fine', () => {});\n",
    });
    const { code, summary } = runUnit(root);
    assert.equal(code, 1);
    assert.match(summary[0] ?? '', /unit: 1 passed, 1 failed, 0 cancelled, 0 skipped \(exit 1\)$/);
    assert.equal(summary[1], 'tests: 1 passed, 1 failed, 0 skipped');
  });

  it('a failing test is counted once', () => {
    const root = layout({ 'c.spec.js': "const { it } = require('node:test');\nit('no', () => { throw new Error('x'); });\nit('yes', () => {});\n" });
    const { code, summary } = runUnit(root);
    assert.equal(code, 1);
    assert.match(summary[0] ?? '', /unit: 1 passed, 1 failed, .*\(exit 1\)$/);
    assert.equal(summary[1], 'tests: 1 passed, 1 failed, 0 skipped');
  });
});
