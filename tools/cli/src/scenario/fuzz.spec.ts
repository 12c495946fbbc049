/**
 * The fuzzer (fuzz.ts) and the fuzzing reproducers of issue 7, run as a user runs them:
 * `mfsim scenario run --json FILE` in a child with a 512 MB heap. Each must end with exit
 * 0, 1 or 2 and no stack trace. The child timeout is only a hang guard, never a speed check.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

import { classify, fuzzScenarios, makeCase, randomSource, seedFiles } from './fuzz';

const REPO = resolve(__dirname, '../../../..');
const scratch = mkdtempSync(join(tmpdir(), 'mfsim-fuzz-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

function runFile(name: string, text: string): { code: number | null; stderr: string } {
  const file = join(scratch, name);
  writeFileSync(file, text);
  const r = spawnSync(process.execPath, ['--max-old-space-size=512', join(REPO, 'tools/cli/bin/mfsim.js'), 'scenario', 'run', '--json', file], {
    encoding: 'utf8',
    timeout: 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status, stderr: r.stderr };
}

const PMEM = (size: string): string => `pmem:\n  - { name: pmem0, physAddr: "0x100000000", size: ${size}, dataOffset: "0x10200000" }\n`;

function bigFile(pages: number, maps: number, faulted: string, madvise?: number): string {
  const q = pages / 4;
  const extents = [0, 1, 2, 3].map((k) => `{ offset: ${k * q}, block: ${100000 + k * q}, count: ${q} }`).join(', ');
  const mmaps = Array.from({ length: maps }, (_, k) => `      - { fs: xfs0, path: /F, start: "0x${(0x7f0000000000 + k * 0x1000000000).toString(16)}", pgoff: 0, pages: ${pages}, faulted: ${faulted} }`).join('\n');
  return (
    `name: big\n${PMEM('64GiB')}filesystems:\n  - { name: xfs0, device: pmem0, agBlocks: 4194304, files: [{ path: /F, ino: 131, extents: [${extents}] }] }\n` +
    `processes:\n  - pid: 100\n    comm: app\n    mmaps:\n${mmaps}\n` +
    (madvise === undefined ? '' : `injections:\n  - { id: i1, madvise: { pid: 100, addr: "0x7f0000000000", pages: ${madvise} } }\n`)
  );
}

/** The reproducers of the issue, with the exit code each must give and what stderr must say. */
const REPRODUCERS: { name: string; text: () => string; code: number; stderr?: RegExp }[] = [
  {
    name: '§9 3 PiB, blockSize 512, agBlocks 1',
    text: () => `name: r\n${PMEM('3PiB')}filesystems:\n  - { name: xfs0, device: pmem0, blockSize: 512, agBlocks: 1 }\n`,
    code: 2,
    stderr: /filesystems\[0\]\.agBlocks: .*at most 1048576/,
  },
  {
    name: '§9 4 TiB, agCount 4294967295',
    text: () => `name: r\n${PMEM('4TiB')}filesystems:\n  - { name: xfs0, device: pmem0, blockSize: 512, agBlocks: 1, agCount: 4294967295 }\n`,
    code: 2,
    stderr: /filesystems\[0\]\.agCount: agCount 4294967295 is too many/,
  },
  { name: '§10 one mapping of 2^20 pages, madvise 2^20', text: () => bigFile(1 << 20, 1, 'none', 1 << 20), code: 2, stderr: /processes\[0\]\.mmaps\[0\]\.pages: .*limited to 131072 pages/ },
  { name: '§10 four mappings of 2^20 pages, faulted: all', text: () => bigFile(1 << 20, 4, 'all'), code: 2, stderr: /mmaps\[0\]\.faulted: .*limited to 32768 faulted pages/ },
  {
    name: '§11 madvise of 8,000 pages and 8,000 signals expected without addr',
    text: () =>
      `${bigFile(8000, 1, 'none', 8000).replace('name: big', 'name: r11')}expect:\n  signals:\n${'    - { pid: 100, code: BUS_MCEERR_AR }\n'.repeat(8000)}`,
    code: 0,
  },
  {
    name: '§12 a pmem device and an injection named __proto__',
    text: () => `name: r\npmem:\n  - { name: __proto__, physAddr: "0x100000000", size: 16GiB, dataOffset: "0x10200000" }\ninjections:\n  - { id: __proto__, corruptPfn: { pfn: "0x110200" } }\nexpect:\n  devices: { __proto__: { alive: true, holder: none } }\n`,
    code: 0,
  },
  {
    name: '§13 40,000 partitions',
    text: () =>
      `name: r\npmem:\n  - name: pmem0\n    physAddr: "0x100000000"\n    size: 16GiB\n    dataOffset: "0x10200000"\n    partitions:\n` +
      Array.from({ length: 40_000 }, (_, k) => `      - { name: p${k}, start: ${2048 + k * 8}, sectors: 8 }\n`).join(''),
    code: 0,
  },
  {
    name: '§14 numeric ids, an unknown incident id',
    text: () => `name: r\n${PMEM('16GiB')}injections:\n  - { id: 1, corruptPfn: { pfn: "0x110200" } }\nexpect:\n  incidents: [{ id: 2, status: complete }]\n`,
    code: 2,
    stderr: /expect\.incidents\[0\]\.id: no injection has id '2'/,
  },
  { name: '§15 1,000 nested [', text: () => `name: r\ndescription: ${'['.repeat(1000)}${']'.repeat(1000)}\n`, code: 2, stderr: /nested too deeply/ },
  { name: '§15 physAddr "0x"', text: () => `name: r\n${PMEM('16GiB').replace('"0x100000000"', '"0x"')}`, code: 2, stderr: /pmem\[0\]\.physAddr: no digits after 0x/ },
  { name: '§15 an unknown tag', text: () => 'name: !nonsense r\n', code: 2, stderr: /unknown YAML tag !nonsense/ },
];

describe('issue 7 reproducers through the CLI (512 MB heap)', () => {
  for (const r of REPRODUCERS) {
    it(`${r.name}: exit ${r.code}, no stack trace`, () => {
      const { code, stderr } = runFile(`${r.name.replace(/[^A-Za-z0-9]+/g, '-')}.yaml`, r.text());
      assert.equal(classify(code, stderr, false) === 'stack-trace', false, stderr);
      assert.equal(code, r.code, stderr.slice(0, 2000));
      if (r.stderr) assert.match(stderr, r.stderr);
    });
  }
});

describe('the scenario fuzzer', () => {
  it('classifies exits 0/1/2 as acceptable, anything else, a stack trace or a hang as a failure', () => {
    assert.equal(classify(0, '', false), 'pass');
    assert.equal(classify(1, '', false), 'mismatch');
    assert.equal(classify(2, 'f.yaml: name: required\n', false), 'refused');
    assert.equal(classify(134, 'FATAL ERROR: Reached heap limit\n', false), 'bad-exit');
    assert.equal(classify(null, '', false), 'bad-exit');
    assert.equal(classify(2, 'mfsim: RangeError: Invalid array length\n    at buildRmap (/x/topology.js:60:18)\n', false), 'stack-trace');
    assert.equal(classify(null, '', true), 'hang');
  });

  it('is deterministic: the same seed and index give the same mutant', () => {
    const seeds = seedFiles(REPO);
    assert.ok(seeds.length > 50);
    for (const index of [0, 1, 17]) assert.deepEqual(makeCase(seeds, 42, index), makeCase(seeds, 42, index));
    assert.notDeepEqual(makeCase(seeds, 42, 0), makeCase(seeds, 43, 0));
    const a = randomSource(9);
    const b = randomSource(9);
    assert.deepEqual([a(), a(), a()], [b(), b(), b()]);
  });

  it('a short seeded run: every case ends with exit 0, 1 or 2, without a stack trace or a hang', async () => {
    const report = await fuzzScenarios({ root: REPO, seed: 7, cases: 16, concurrency: 2, hangMs: 120_000, heapMb: 512, outDir: join(scratch, 'fuzz') });
    assert.equal(report.results.length, 16);
    assert.deepEqual(
      report.failures.map((f) => `case ${f.index} (${f.seedFile}: ${f.mutation}): ${f.verdict}\n${f.detail}`),
      [],
    );
  });
});
