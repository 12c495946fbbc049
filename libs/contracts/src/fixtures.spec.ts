import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';

import { parseEnvelope } from './registry';
import { Topic, TOPICS } from './topics';

// Fixtures stay in src/ (tsc copies no JSON); the compiled spec runs from dist/.
const FIXTURES_DIR = join(__dirname, '..', 'src', 'fixtures');

/** fixtures/<subsys.op>/v<N>/<name>.json → topic `<subsys.op>.v<N>`. */
function loadFixtures(): { topic: Topic; name: string; json: string }[] {
  return readdirSync(FIXTURES_DIR).flatMap((op) =>
    readdirSync(join(FIXTURES_DIR, op)).flatMap((version) =>
      readdirSync(join(FIXTURES_DIR, op, version)).map((name) => ({
        topic: `${op}.${version}` as Topic,
        name: `${op}/${version}/${name}`,
        json: readFileSync(join(FIXTURES_DIR, op, version, name), 'utf8'),
      })),
    ),
  );
}

describe('contract fixtures', () => {
  const fixtures = loadFixtures();

  it('cover every topic', () => {
    const covered = new Set(fixtures.map((fixture) => fixture.topic));
    assert.deepEqual(TOPICS.filter((topic) => !covered.has(topic)), []);
  });

  for (const fixture of fixtures) {
    it(`${fixture.name} parses and round-trips`, () => {
      assert.ok(TOPICS.includes(fixture.topic), `no topic ${fixture.topic}`);
      const original: unknown = JSON.parse(fixture.json);
      const parsed = parseEnvelope(fixture.topic, original);
      assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
      assert.deepEqual(parsed.envelope, original);

      const again = parseEnvelope(fixture.topic, JSON.parse(JSON.stringify(parsed.envelope)));
      assert.ok(again.ok);
      assert.deepEqual(again.envelope, parsed.envelope);
    });
  }
});
