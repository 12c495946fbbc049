/**
 * Runs every scenario file the project ships (scenarios/, the spec's public examples among them
 * in scenarios/examples) in embedded mode, and checks that every invalid file is rejected naming the field its
 * description promises.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { explainMismatch } from './render';
import { parseScenario } from './parse-scenario';
import { runScenario } from './run-scenario';

const REPO = resolve(__dirname, '../../..');
const OWN_SCENARIOS = join(REPO, 'scenarios');

function yamlFiles(dir: string, recurse: (name: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (recurse(name)) out.push(...yamlFiles(p, recurse));
    } else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

const valid = yamlFiles(OWN_SCENARIOS, (name) => name !== 'invalid' && name !== 'chaos'); // chaos/: plans and histories, not scenarios
const invalid = yamlFiles(join(OWN_SCENARIOS, 'invalid'), () => true);

describe('scenario suite (embedded mode)', () => {
  it('finds the examples and the project suite', () => {
    assert.ok(yamlFiles(join(OWN_SCENARIOS, 'examples'), () => false).length >= 11, 'scenarios/examples holds fewer than 11 files');
    assert.ok(valid.length >= 11, `only ${valid.length} scenario files found`);
  });
  for (const file of valid) {
    it(file.slice(REPO.length - 4), () => {
      const parsed = parseScenario(readFileSync(file, 'utf8'), file);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
      const run = runScenario(parsed.scenario);
      assert.ok(run.pass, run.mismatches.map(explainMismatch).join('\n'));
    });
  }
});

describe('invalid scenario files are rejected naming the field', () => {
  for (const file of invalid) {
    it(file.slice(REPO.length - 4), () => {
      const text = readFileSync(file, 'utf8');
      const promised = /naming `?([A-Za-z0-9_.[\]]+)/.exec(text)?.[1]?.replace(/\.+$/, '');
      const parsed = parseScenario(text, file);
      assert.equal(parsed.ok, false, 'the file was accepted');
      if (!parsed.ok && promised) {
        assert.ok(
          parsed.issues.some((i) => i.path === promised || i.path.startsWith(`${promised}[`) || i.path.startsWith(`${promised}.`)),
          `expected an issue at ${promised}, got: ${parsed.issues.map((i) => i.path).join(', ')}`,
        );
      }
    });
  }
});
