/**
 * Generated sections: they expand into the same scenario as the files and processes written
 * out, deterministically per seed, and are validated like written ones.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseScenario } from './parse-scenario';
import { runScenario } from './run-scenario';

const HEAD = `name: gen
pmem:
  - { name: pmem0, physAddr: "0x100000000", size: 16GiB, dataOffset: "0x10200000" }
filesystems:
  - name: xfs0
    device: pmem0
    agBlocks: 1024
    reflink: true
`;

function parsed(text: string) {
  const r = parseScenario(text, 'gen.yaml');
  if (!r.ok) assert.fail(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return r.scenario;
}

describe('generate: sections', () => {
  it('expand into the files and processes one would write', () => {
    const generated = parsed(`${HEAD}    generate: { files: 2, extents: { count: 2, blocks: 4, gap: 1 }, firstBlock: 1018, firstIno: 500 }
processes:
  - generate: { count: 1, fs: xfs0, mapsPerProcess: 1, faulted: all, firstPid: 300, seed: 1 }
`);
    const written = parsed(`${HEAD}    files:
      - { path: /gen/f0, ino: 500, extents: [{ offset: 0, block: 1018, count: 4 }, { offset: 4, block: 1024, count: 4 }] }
      - { path: /gen/f1, ino: 501, extents: [{ offset: 0, block: 1029, count: 4 }, { offset: 4, block: 1034, count: 4 }] }
processes:
  - pid: 300
    comm: gen0
    mmaps:
      - { fs: xfs0, path: ${generated.processes[0]?.mmaps[0]?.path}, start: "0x7f0000000000", pgoff: 0, pages: 8, faulted: all }
`);
    assert.deepEqual(generated, written);
  });

  it('are the same for the same seed, with the asked share of reflinked files', () => {
    const text = `${HEAD}    generate: { files: 1000, extents: { count: 1, blocks: 2 }, reflinked: 30, seed: 9 }\n`;
    const a = parsed(text);
    assert.deepEqual(parsed(text), a);
    const files = a.filesystems[0]!.files;
    assert.equal(files.length, 1000);
    const firstBlocks = new Map<bigint, number>();
    for (const f of files) firstBlocks.set(f.extents[0]!.block, (firstBlocks.get(f.extents[0]!.block) ?? 0) + 1);
    const shared = files.length - firstBlocks.size;
    assert.ok(shared > 200 && shared < 400, `${shared} reflinked`);
  });

  it('are validated like the rest: bad parameters and what the files break are named', () => {
    const bad = parseScenario(`${HEAD.replace('reflink: true', 'reflink: false')}    generate: { files: 20, reflinked: 50, bogus: 1 }\n`, 'gen.yaml');
    assert.equal(bad.ok, false);
    const paths = bad.ok ? [] : bad.issues.map((i) => i.path);
    assert.ok(paths.includes('filesystems[0].generate.bogus'));
    assert.ok(paths.some((p) => /^filesystems\[0\]\.files\[\d+\]\.extents\[0\]$/.test(p)), paths.join(', '));
    const noFs = parseScenario(`${HEAD}    files: []\nprocesses:\n  - generate: { count: 2, fs: xfs0 }\n`, 'gen.yaml');
    assert.equal(noFs.ok, false);
    assert.ok(!noFs.ok && noFs.issues.some((i) => i.path === 'processes[0].generate.fs'));
  });

  it('a generated machine runs: unbind signals every mapped page', () => {
    const s = parsed(`${HEAD}    generate: { files: 30, extents: { count: 2, blocks: 3 }, reflinked: 20, seed: 4 }
processes:
  - generate: { count: 4, fs: xfs0, mapsPerProcess: 2, faulted: all, mceKill: early }
injections:
  - id: u
    unbind: { device: pmem0, pid: 1 }
`);
    const run = runScenario(s, undefined, { trace: 'none' });
    assert.equal(run.outcome.injections.u?.rc, 0);
    assert.equal(run.outcome.signals.length, 4 * 2 * 6);
    assert.ok(run.outcome.ptes.every((p) => !p.present));
  });
});
