/**
 * Keeps the JSON Schema (scenario-schema.ts, docs/scenario.schema.json) in step with the reader
 * (parseScenario): every shipped valid file validates, every structural error in
 * scenarios/invalid is caught by the schema too, and the committed file is what the code emits.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';

import { parseScenario, scenarioYamlToPlain } from '@mfsim/scenario';

import { scenarioFileSchema, scenarioJsonSchemaText } from './scenario-schema';

const REPO = resolve(__dirname, '../../../..');
const SCENARIOS = join(REPO, 'scenarios');

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) return name === 'chaos' ? [] : yamlFiles(path); // chaos/: plans, not scenarios
      return /\.ya?ml$/.test(name) ? [path] : [];
    });
}

const files = yamlFiles(SCENARIOS);
const valid = files.filter((f) => !f.includes('/invalid/'));
const invalid = files.filter((f) => f.includes('/invalid/'));

/**
 * Invalid files whose error is one of structure (a key, a type, a spelling, a required field):
 * the schema must refuse them. The others break a rule between fields (a reference, an overlap,
 * an alignment, a range that depends on another field), which only the reader checks.
 */
const STRUCTURAL = new Set([
  'expect-signal-unknown-code.yaml',
  'expect-unknown-errno.yaml',
  'injection-two-kinds.yaml',
  'missing-name.yaml',
  'size-bad-suffix.yaml',
  'sysctl-early-kill-out-of-range.yaml',
  'unknown-key.yaml',
]);

describe('the JSON Schema of the scenario format', () => {
  it('docs/scenario.schema.json is what `mfsim scenario schema` prints (regenerate it with that command)', () => {
    assert.equal(readFileSync(join(REPO, 'docs/scenario.schema.json'), 'utf8'), scenarioJsonSchemaText());
  });

  it('docs/scenario-format.md points editors to it', () => {
    assert.match(readFileSync(join(REPO, 'docs/scenario-format.md'), 'utf8'), /yaml-language-server: \$schema=/);
  });

  it('finds the shipped files', () => {
    assert.ok(valid.length > 50 && invalid.length >= STRUCTURAL.size, `${valid.length} valid, ${invalid.length} invalid`);
    for (const name of STRUCTURAL) assert.ok(invalid.some((f) => f.endsWith(`/${name}`)), `${name} is not in scenarios/invalid`);
  });

  for (const file of valid) {
    it(`accepts ${file.slice(REPO.length + 1)}`, () => {
      const result = scenarioFileSchema.safeParse(scenarioYamlToPlain(readFileSync(file, 'utf8')));
      assert.ok(result.success, result.success ? '' : JSON.stringify(result.error.issues.slice(0, 3)));
    });
  }

  for (const file of invalid) {
    const name = file.slice(file.lastIndexOf('/') + 1);
    const structural = STRUCTURAL.has(name);
    it(`${structural ? 'refuses' : 'leaves to the reader'} ${file.slice(REPO.length + 1)}`, () => {
      const text = readFileSync(file, 'utf8');
      assert.equal(parseScenario(text, file).ok, false, 'the reader accepts it');
      const result = scenarioFileSchema.safeParse(scenarioYamlToPlain(text));
      assert.equal(result.success, !structural, structural ? 'the schema accepts a structural error' : 'the schema refuses a file whose error is between fields: list it in STRUCTURAL');
    });
  }
});
