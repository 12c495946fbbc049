import assert from 'node:assert/strict';
// The lint rule for pure libs bans node:fs; this test reads the shipped example files on purpose
// (the parser itself stays pure and takes text).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

import { stringify } from 'yaml';

import { parseScenario, truncateComm, type ParseScenarioResult } from './parse-scenario';
import type { Scenario, ScenarioIssue } from './scenario.types';
import { formatHex, parseInteger, parseSize } from './scenario-values';

// dist/parse-scenario.spec.js -> libs/scenario/dist -> the repo root -> scenarios/
const REPO = path.resolve(__dirname, '../../..');
const SCENARIOS = path.join(REPO, 'scenarios/examples');
const INVALID = path.join(REPO, 'scenarios/invalid');

function parsed(result: ParseScenarioResult): Scenario {
  if (!result.ok) assert.fail(`expected a valid scenario, got:\n${result.issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
  return result.scenario;
}

function issuesOf(result: ParseScenarioResult): ScenarioIssue[] {
  assert.equal(result.ok, false, 'expected the scenario to be rejected');
  return result.ok ? [] : result.issues;
}

/** A valid scenario that each broken case below changes in one place. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = any;
function base(): Doc {
  return {
    name: 'base',
    pmem: [
      { name: 'pmem0', physAddr: '0x100000000', size: '16GiB', dataOffset: '0x10200000' },
      { name: 'pmem1', physAddr: '0x500000000', size: '1GiB', dataOffset: '0x2000000' },
    ],
    filesystems: [
      {
        name: 'xfs0',
        device: 'pmem0',
        blockSize: 4096,
        agBlocks: 262144,
        metadata: [{ owner: 'OWN_INODES', block: 96, count: 32 }],
        files: [
          { path: '/a', ino: 131, extents: [{ offset: 0, block: 78416, count: 16 }] },
          { path: '/b', ino: 132, extents: [{ offset: 0, block: 80000, count: 16 }] },
        ],
      },
    ],
    processes: [
      {
        pid: 100,
        comm: 'INJ',
        mmaps: [{ fs: 'xfs0', path: '/a', start: '0x7f0000000000', pgoff: 0, pages: 16, faulted: [0] }],
      },
    ],
    injections: [{ id: 'i1', madvise: { pid: 100, addr: '0x7f0000000000', pages: 1 } }],
    expect: {
      injections: { i1: { rc: 0 } },
      signals: [{ pid: 100, code: 'BUS_MCEERR_AR', addr: '0x7f0000000000', lsb: 12 }],
      filesystems: { xfs0: { shutdown: 'none' } },
      devices: { pmem0: { alive: true, holder: 'xfs0' } },
    },
  };
}

function parseDoc(doc: Doc): ParseScenarioResult {
  return parseScenario(stringify(doc), 'case.yaml');
}

function withDm(doc: Doc): Doc {
  doc.dm = [
    {
      name: 'dm0',
      table: [
        { begin: 0, len: 4096, type: 'linear', device: 'pmem1', start: 0 },
        { begin: 4096, len: 4096, type: 'linear', device: 'pmem1', start: 8192 },
      ],
    },
  ];
  return doc;
}

function withPartitions(doc: Doc): Doc {
  doc.pmem[1].partitions = [
    { name: 'pmem1p1', start: 2048, sectors: 4096 },
    { name: 'pmem1p2', start: 8192, sectors: 4096 },
  ];
  return doc;
}

const fs0 = (doc: Doc): Doc => doc.filesystems[0];
const mmap0 = (doc: Doc): Doc => doc.processes[0].mmaps[0];

interface BrokenCase {
  rule: string;
  change: (doc: Doc) => void;
  /** Raw YAML instead of a changed base document. */
  text?: string;
  path: string;
  message: RegExp;
  /** Other issues may come too (otherwise the named one must be the only one). */
  more?: boolean;
}

const BROKEN: BrokenCase[] = [
  // --- YAML and shapes
  { rule: 'YAML syntax error', change: () => {}, text: 'name: x\npmem: [ { name: pmem0\nfoo: 1\n', path: '', message: /^YAML syntax error at line \d+, column \d+: /, more: true },
  { rule: 'duplicate key', change: () => {}, text: 'name: x\nname: y\n', path: '', message: /line 2, column 1: Map keys must be unique/ },
  { rule: 'empty file', change: () => {}, text: '# nothing\n', path: '', message: /empty/ },
  { rule: 'top level not a mapping', change: () => {}, text: '- a\n- b\n', path: '', message: /expected a mapping at the top/ },
  { rule: 'namespace within 52-bit physical space', change: (d) => (d.pmem[0].physAddr = '0xfffffffff0000000'), path: 'pmem[0].size', message: /runs past the 52-bit physical address space/ },
  { rule: 'unknown top-level key', change: (d) => (d.procesess = []), path: 'procesess', message: /unknown key 'procesess' \(did you mean 'processes'\?\)/ },
  { rule: 'unknown nested key', change: (d) => (fs0(d).relink = true), path: 'filesystems[0].relink', message: /did you mean 'reflink'/ },
  { rule: 'unknown key in an injection body', change: (d) => (d.injections[0].madvise.page = 1), path: 'injections[0].madvise.page', message: /did you mean 'pages'/ },
  { rule: 'name required', change: (d) => delete d.name, path: 'name', message: /required field 'name' is missing/ },
  { rule: 'a list where a mapping belongs', change: (d) => (d.sysctl = [1]), path: 'sysctl', message: /expected a mapping, got a list/ },
  { rule: 'sysctl flag is 0 or 1', change: (d) => (d.sysctl = { memoryFailureRecovery: 2 }), path: 'sysctl.memoryFailureRecovery', message: /at most 1, got 2/ },
  { rule: 'boolean expected', change: (d) => (fs0(d).reflink = 'yes'), path: 'filesystems[0].reflink', message: /expected true or false, got "yes"/ },
  { rule: 'enum expected', change: (d) => (fs0(d).dax = 'sometimes'), path: 'filesystems[0].dax', message: /expected one of always, never, inode, got "sometimes"/ },
  // --- numbers
  { rule: 'not an integer', change: (d) => (d.pmem[0].size = 'lots'), path: 'pmem[0].size', message: /expected an integer or a size .*got "lots"/ },
  { rule: 'float', change: (d) => (mmap0(d).pages = 1.5), path: 'processes[0].mmaps[0].pages', message: /expected an integer .*got 1\.5/ },
  { rule: 'unsafe YAML number', change: (d) => (d.pmem[0].physAddr = 0x1_0000_0000_0000_0000n - 0x1000n), path: 'pmem[0].physAddr', message: /beyond 2\^53 .*Write it as a string: "0xfffffffffffff000"/ },
  { rule: 'negative', change: (d) => (d.pmem[0].pfnPad = '-4096'), path: 'pmem[0].pfnPad', message: /must not be negative, got -4096/ },
  { rule: 'size suffix on a sector count', change: (d) => withPartitions(d).pmem[1].partitions[0].start = '1MiB', path: 'pmem[1].partitions[0].start', message: /size suffix is only allowed on byte quantities/ },
  { rule: 'ambiguous size suffix', change: (d) => (d.pmem[0].size = '16GB'), path: 'pmem[0].size', message: /ambiguous .*write GiB/ },
  { rule: 'more than 64 bits', change: (d) => (d.injections[0] = { id: 'i1', background: { pfn: '0x10000000000000000' } }), path: 'injections[0].background.pfn', message: /at most/, more: true },
  { rule: 'string expected', change: (d) => (d.processes[0].comm = 42), path: 'processes[0].comm', message: /expected a string, got 42 \(quote it/ },
  // --- names
  { rule: 'partition name reuses a namespace name', change: (d) => (withPartitions(d).pmem[1].partitions[0].name = 'pmem0'), path: 'pmem[1].partitions[0].name', message: /'pmem0' is already used by a pmem namespace \(pmem\[0\]\)/ },
  { rule: 'dm name reuses a partition name', change: (d) => (withDm(withPartitions(d)).dm[0].name = 'pmem1p2'), path: 'dm[0].name', message: /already used by a partition \(pmem\[1\]\.partitions\[1\]\)/ },
  { rule: 'namespace names unique', change: (d) => (d.pmem[1].name = 'pmem0'), path: 'pmem[1].name', message: /already used/, more: true },
  { rule: 'reserved name none', change: (d) => (d.pmem[1].name = 'none'), path: 'pmem[1].name', message: /'none' is reserved/ },
  { rule: 'filesystem names unique', change: (d) => d.filesystems.push({ name: 'xfs0', device: 'pmem1', agBlocks: 1024 }), path: 'filesystems[1].name', message: /'xfs0' is already used by filesystems\[0\]/ },
  { rule: 'filesystem and device names differ', change: (d) => d.filesystems.push({ name: 'pmem0', device: 'pmem1', agBlocks: 1024 }), path: 'filesystems[1].name', message: /already used by a pmem namespace/ },
  { rule: 'pids unique', change: (d) => d.processes.push({ pid: 100, comm: 'twin' }), path: 'processes[1].pid', message: /pid 100 is already used by processes\[0\]/ },
  { rule: 'injection ids unique', change: (d) => d.injections.push({ id: 'i1', corruptPfn: { pfn: '0x123456' } }), path: 'injections[1].id', message: /id 'i1' is already used by injections\[0\]/ },
  // --- pmem
  { rule: 'physAddr page-aligned', change: (d) => (d.pmem[1].physAddr = '0x500000800'), path: 'pmem[1].physAddr', message: /page-aligned .*got 0x500000800/ },
  { rule: 'dataOffset page-aligned', change: (d) => (d.pmem[1].dataOffset = 100), path: 'pmem[1].dataOffset', message: /page-aligned/ },
  { rule: 'size > dataOffset + pfnPad', change: (d) => Object.assign(d.pmem[1], { size: '32MiB', pfnPad: '2MiB' }), path: 'pmem[1].size', message: /larger than dataOffset \+ pfnPad \(0x2200000\)/ },
  { rule: 'physical ranges disjoint', change: (d) => (d.pmem[1].physAddr = '0x4ff000000'), path: 'pmem[1].physAddr', message: /overlaps namespace pmem0/ },
  { rule: 'partition inside the capacity', change: (d) => (withPartitions(d).pmem[1].partitions[1].sectors = 2_030_000), path: 'pmem[1].partitions[1]', message: /sectors 8192\.\.2038191 lie outside pmem1, whose capacity .* is 2031616 sectors/ },
  { rule: 'partitions disjoint', change: (d) => (withPartitions(d).pmem[1].partitions[1].start = 4096), path: 'pmem[1].partitions[1]', message: /sectors 4096\.\.6143 overlap pmem1p1/ },
  { rule: 'badblocks inside the capacity', change: (d) => (d.pmem[1].badblocks = [{ sector: 2031615, count: 2 }]), path: 'pmem[1].badblocks[0]', message: /lie outside pmem1/ },
  // --- dm
  { rule: 'first target begins at 0', change: (d) => (withDm(d).dm[0].table[0].begin = 8), path: 'dm[0].table[0].begin', message: /expected 0, got 8; the first target must begin at sector 0/, more: true },
  { rule: 'targets contiguous', change: (d) => (withDm(d).dm[0].table[1].begin = 5000), path: 'dm[0].table[1].begin', message: /expected 4096, got 5000; targets must be contiguous/ },
  { rule: 'target device exists', change: (d) => (withDm(d).dm[0].table[0].device = 'pmem9'), path: 'dm[0].table[0].device', message: /no pmem namespace or partition named 'pmem9'/ },
  { rule: 'target fits in its device', change: (d) => (withDm(d).dm[0].table[1].start = 2031000), path: 'dm[0].table[1]', message: /2035096 sectors, but pmem1 has only 2031616 sectors/ },
  { rule: 'target fits in a partition', change: (d) => (withDm(withPartitions(d)).dm[0].table[1].device = 'pmem1p2'), path: 'dm[0].table[1]', message: /12288 sectors, but pmem1p2 has only 4096/ },
  { rule: 'target type linear', change: (d) => (withDm(d).dm[0].table[0].type = 'striped'), path: 'dm[0].table[0].type', message: /expected linear, got "striped"/ },
  // --- filesystems: devices and geometry
  { rule: 'fs device exists', change: (d) => (fs0(d).device = 'pmem7'), path: 'filesystems[0].device', message: /no pmem namespace, partition or dm device named 'pmem7'/, more: true },
  { rule: 'fs device used once', change: (d) => d.filesystems.push({ name: 'xfs1', device: 'pmem0', agBlocks: 1024 }), path: 'filesystems[1].device', message: /pmem0 is already used by filesystem xfs0/ },
  { rule: 'logDevice exists', change: (d) => (fs0(d).logDevice = 'pmem5'), path: 'filesystems[0].logDevice', message: /no pmem namespace named 'pmem5'/ },
  { rule: 'logDevice differs from device', change: (d) => (fs0(d).logDevice = 'pmem0'), path: 'filesystems[0].logDevice', message: /must differ from device/ },
  { rule: 'logDevice not under the data device', change: (d) => { Object.assign(withDm(d).filesystems[0], { device: 'dm0', agBlocks: 256, logDevice: 'pmem1', files: [], metadata: [] }); (d.processes = []); (d.injections = []); delete d.expect; }, path: 'filesystems[0].logDevice', message: /pmem1 lies under the data device dm0/ },
  { rule: 'blockSize a power of two', change: (d) => (fs0(d).blockSize = 3000), path: 'filesystems[0].blockSize', message: /power of two between 512 and 65536, got 3000/ },
  { rule: 'blockSize at least 512', change: (d) => (fs0(d).blockSize = 256), path: 'filesystems[0].blockSize', message: /at least 512/ },
  { rule: 'xfs needs agBlocks', change: (d) => delete fs0(d).agBlocks, path: 'filesystems[0].agBlocks', message: /required field 'agBlocks' is missing/ },
  { rule: 'agBlocks > 0', change: (d) => (fs0(d).agBlocks = 0), path: 'filesystems[0].agBlocks', message: /at least 1, got 0/ },
  { rule: 'agCount fits the device', change: (d) => (fs0(d).agCount = 17), path: 'filesystems[0].agCount', message: /17 allocation groups of 262144 blocks need more than 4194304 blocks, but pmem0 holds only 4128256 blocks/ },
  { rule: 'extent inside the fs', change: (d) => (fs0(d).files[1].extents[0].block = 4128250), path: 'filesystems[0].files[1].extents[0]', message: /blocks 4128250\.\.4128265 lie outside xfs0, which has 4128256 blocks/ },
  { rule: 'agCount shrinks the fs', change: (d) => { (fs0(d).agCount = 1); (fs0(d).files[1].extents[0].block = 262140); }, path: 'filesystems[0].files[1].extents[0]', message: /lie outside xfs0, which has 262144 blocks/ },
  { rule: 'extent inside one AG', change: (d) => (fs0(d).files[1].extents[0].block = 262140), path: 'filesystems[0].files[1].extents[0]', message: /blocks 262140\.\.262155 cross the allocation-group boundary at block 262144/ },
  { rule: 'metadata inside the fs', change: (d) => (fs0(d).metadata[0].block = 5_000_000), path: 'filesystems[0].metadata[0]', message: /lie outside xfs0/ },
  { rule: 'cowStaging inside one AG', change: (d) => (fs0(d).cowStaging = [{ block: 524287, count: 2 }]), path: 'filesystems[0].cowStaging[0]', message: /allocation-group boundary at block 524288/ },
  { rule: 'fs size from a partition', change: (d) => { Object.assign(withPartitions(d).filesystems[0], { device: 'pmem1p1', agBlocks: 256, metadata: [] }); (fs0(d).files[1].extents = []); (fs0(d).files[0].extents[0].block = 500); }, path: 'filesystems[0].files[0].extents[0]', message: /blocks 500\.\.515 lie outside xfs0, which has 512 blocks/ },
  { rule: 'fs size from a dm device', change: (d) => { Object.assign(withDm(d).filesystems[0], { device: 'dm0', agBlocks: 1024, metadata: [] }); (fs0(d).files[1].extents = []); (fs0(d).files[0].extents[0].block = 1020); }, path: 'filesystems[0].files[0].extents[0]', message: /blocks 1020\.\.1035 lie outside xfs0, which has 1024 blocks/ },
  // --- filesystems: files and block ownership
  { rule: 'extents of a file disjoint in file offset', change: (d) => fs0(d).files[0].extents.push({ offset: 15, block: 90000, count: 2 }), path: 'filesystems[0].files[0].extents[1].offset', message: /file blocks 15\.\.15 are already mapped by filesystems\[0\]\.files\[0\]\.extents\[0\]/ },
  { rule: 'ino unique', change: (d) => (fs0(d).files[1].ino = 131), path: 'filesystems[0].files[1].ino', message: /ino 131 is already used by \/a/ },
  { rule: 'path unique', change: (d) => (fs0(d).files[1].path = '/a'), path: 'filesystems[0].files[1].path', message: /\/a is already listed/ },
  { rule: 'path absolute', change: (d) => (fs0(d).files[1].path = 'b'), path: 'filesystems[0].files[1].path', message: /absolute path/ },
  { rule: 'shared blocks need reflink', change: (d) => { fs0(d).reflink = false; fs0(d).files[1].extents[0].block = 78420; }, path: 'filesystems[0].files[1].extents[0]', message: /^shares blocks 78420\.\.78431 with \/a but reflink is false$/ },
  { rule: 'shared blocks within one file need reflink', change: (d) => { fs0(d).reflink = false; fs0(d).files[0].extents.push({ offset: 16, block: 78416, count: 1 }); }, path: 'filesystems[0].files[0].extents[1]', message: /shares blocks 78416\.\.78416 with \/a \(extents\[0\]\), in the same file but reflink is false/ },
  { rule: 'special owner name', change: (d) => (fs0(d).metadata[0].owner = 'OWN_INODE'), path: 'filesystems[0].metadata[0].owner', message: /expected one of OWN_NULL, .*got "OWN_INODE"/ },
  { rule: 'ext4 has no shared extents', change: (d) => { (fs0(d).type = 'ext4'); (fs0(d).files[1].extents[0].block = 78416); }, path: 'filesystems[0].files[1].extents[0]', message: /shares blocks 78416\.\.78431 with \/a, but ext4 has no shared extents/ },
  // --- processes
  { rule: 'comm required', change: (d) => delete d.processes[0].comm, path: 'processes[0].comm', message: /required/ },
  { rule: 'pid positive', change: (d) => (d.processes[0].pid = 0), path: 'processes[0].pid', message: /at least 1/ },
  { rule: 'mmap fs exists', change: (d) => (mmap0(d).fs = 'xfs9'), path: 'processes[0].mmaps[0].fs', message: /no filesystem named 'xfs9'/ },
  { rule: 'mmap path is a file of the fs', change: (d) => (mmap0(d).path = '/zz'), path: 'processes[0].mmaps[0].path', message: /xfs0 has no file \/zz/ },
  { rule: 'mapped file is regular', change: (d) => (fs0(d).files[0].kind = 'directory'), path: 'processes[0].mmaps[0].path', message: /\/a is a directory/ },
  { rule: 'start page-aligned', change: (d) => (mmap0(d).start = '0x7f0000000010'), path: 'processes[0].mmaps[0].start', message: /page-aligned .*got 0x7f0000000010/ },
  { rule: 'start in user space', change: (d) => (mmap0(d).start = '0x800000000000'), path: 'processes[0].mmaps[0].start', message: /not in user space \(below 0x800000000000\)/ },
  { rule: 'mapping ends in user space', change: (d) => { (mmap0(d).start = '0x7ffffffff000'); (d.injections[0].madvise.addr = '0x7ffffffff000'); (d.expect.signals[0].addr = '0x7ffffffff000'); }, path: 'processes[0].mmaps[0].start', message: /0x7ffffffff000\.\.0x80000000efff is not in user space/ },
  { rule: 'pages >= 1', change: (d) => (mmap0(d).pages = 0), path: 'processes[0].mmaps[0].pages', message: /at least 1, got 0/ },
  { rule: 'mappings of a process disjoint', change: (d) => d.processes[0].mmaps.push({ fs: 'xfs0', path: '/b', start: '0x7f000000f000', pgoff: 0, pages: 4 }), path: 'processes[0].mmaps[1].start', message: /mapping 0x7f000000f000\.\.0x7f0000012fff overlaps processes\[0\]\.mmaps\[0\] \(0x7f0000000000\.\.0x7f000000ffff\)/ },
  { rule: 'pmd needs an aligned start', change: (d) => { Object.assign(mmap0(d), { pmd: true, pages: 512, start: '0x7f0000001000' }); (d.injections[0].madvise.addr = '0x7f0000001000'); (d.expect.signals[0].addr = '0x7f0000001000'); }, path: 'processes[0].mmaps[0].start', message: /pmd: true needs a 2 MiB-aligned start/ },
  { rule: 'pmd needs an aligned pgoff', change: (d) => Object.assign(mmap0(d), { pmd: true, pages: 512, pgoff: 16 }), path: 'processes[0].mmaps[0].pgoff', message: /multiple of 512 pages\), got 16/ },
  { rule: 'faulted pages < pages', change: (d) => (mmap0(d).faulted = [0, 16]), path: 'processes[0].mmaps[0].faulted[1]', message: /page 16 is beyond the mapping's 16 pages \(0\.\.15\)/ },
  { rule: 'faulted all, none or a list', change: (d) => (mmap0(d).faulted = 'some'), path: 'processes[0].mmaps[0].faulted', message: /expected all, none or a list/ },
  { rule: 'mceKill policy', change: (d) => (d.processes[0].mceKill = 'now'), path: 'processes[0].mceKill', message: /expected one of default, early, late/ },
  // --- injections
  { rule: 'injection needs a kind', change: (d) => (d.injections[0] = { id: 'i1' }), path: 'injections[0]', message: /expected one of madvise, corruptPfn, mce, background, unbind, access besides id, got none/ },
  { rule: 'injection has one kind', change: (d) => (d.injections[0].mce = { pid: 100, pfn: 1 }), path: 'injections[0]', message: /got madvise and mce; write one injection per entry/ },
  { rule: 'injection id required', change: (d) => delete d.injections[0].id, path: 'injections[0].id', message: /required/ },
  { rule: 'madvise pid declared', change: (d) => (d.injections[0].madvise.pid = 999), path: 'injections[0].madvise.pid', message: /pid 999 is not a declared process/ },
  { rule: 'madvise range inside the mappings', change: (d) => (d.injections[0].madvise = { pid: 100, addr: '0x7f000000f000', pages: 2 }), path: 'injections[0].madvise.addr', message: /0x7f000000f000\.\.0x7f0000010fff \(2 pages\) is not mapped by pid 100: page 0x7f0000010000 is outside every mapping \(pid 100 maps 0x7f0000000000\.\.0x7f000000ffff\)/ },
  { rule: 'madvise pages >= 1', change: (d) => (d.injections[0].madvise.pages = 0), path: 'injections[0].madvise.pages', message: /at least 1/ },
  { rule: 'mce pid declared', change: (d) => (d.injections[0] = { id: 'i1', mce: { pid: 5, pfn: '0x123450' } }), path: 'injections[0].mce.pid', message: /not a declared process/ },
  { rule: 'access addr inside a mapping', change: (d) => (d.injections[0] = { id: 'i1', access: { pid: 100, addr: '0x7f0000010000' } }), path: 'injections[0].access.addr', message: /0x7f0000010000 is outside every mapping of pid 100/ },
  { rule: 'unbind of a namespace or dm device', change: (d) => (withPartitions(d).injections[0] = { id: 'i1', unbind: { device: 'pmem1p1', pid: 1 } }), path: 'injections[0].unbind.device', message: /'pmem1p1' is a partition; unbind takes a pmem namespace or a dm device/ },
  { rule: 'unbind device exists', change: (d) => (d.injections[0] = { id: 'i1', unbind: { device: 'pmem3', pid: 1 } }), path: 'injections[0].unbind.device', message: /no pmem namespace or dm device named 'pmem3'/ },
  { rule: 'unbind pid positive', change: (d) => (d.injections[0] = { id: 'i1', unbind: { device: 'pmem0', pid: -1 } }), path: 'injections[0].unbind.pid', message: /at least 1/ },
  { rule: 'pfn fits a 64-bit address', change: (d) => (d.injections[0] = { id: 'i1', corruptPfn: { pfn: '0x10000000000000' } }), path: 'injections[0].corruptPfn.pfn', message: /at most/ },
  // --- expect
  { rule: 'expected injection id exists', change: (d) => (d.expect.injections.i9 = { rc: 0 }), path: 'expect.injections.i9', message: /no injection has id 'i9'/ },
  { rule: 'rc is 0 or an errno', change: (d) => (d.expect.injections.i1.rc = 'EWHAT'), path: 'expect.injections.i1.rc', message: /expected 0, an errno name .* or PANIC, got "EWHAT"/ },
  { rule: 'signal code valid', change: (d) => (d.expect.signals[0].code = 'BUS_MCEERR_XX'), path: 'expect.signals[0].code', message: /expected one of BUS_MCEERR_AR, BUS_MCEERR_AO, BUS_ADRERR, SI_KERNEL/ },
  { rule: 'signal signo valid', change: (d) => (d.expect.signals[0].signo = 'SIGSEGV'), path: 'expect.signals[0].signo', message: /expected one of SIGBUS, SIGKILL/ },
  { rule: 'lsb only on BUS_MCEERR_*', change: (d) => (d.expect.signals[0].code = 'BUS_ADRERR'), path: 'expect.signals[0].lsb', message: /only on BUS_MCEERR_AR and BUS_MCEERR_AO signals, not on BUS_ADRERR/ },
  { rule: 'lsb is a page shift', change: (d) => (d.expect.signals[0].lsb = 13), path: 'expect.signals[0].lsb', message: /expected 12, 21, 30/ },
  { rule: 'signal pid declared', change: (d) => (d.expect.signals[0].pid = 7), path: 'expect.signals[0].pid', message: /pid 7 is not a declared process/ },
  { rule: 'expected filesystem exists', change: (d) => (d.expect.filesystems.xfs9 = {}), path: 'expect.filesystems.xfs9', message: /no filesystem named 'xfs9'/ },
  { rule: 'shutdown name valid', change: (d) => (d.expect.filesystems.xfs0.shutdown = 'SHUTDOWN_CORRUPT'), path: 'expect.filesystems.xfs0.shutdown', message: /expected one of none, SHUTDOWN_META_IO_ERROR/ },
  { rule: 'mountError an errno', change: (d) => (d.expect.filesystems.xfs0.mountError = 'EWHAT'), path: 'expect.filesystems.xfs0.mountError', message: /expected an errno name/ },
  { rule: 'expected device exists', change: (d) => (d.expect.devices.pmem9 = { alive: true }), path: 'expect.devices.pmem9', message: /no pmem namespace or dm device named 'pmem9'/ },
  { rule: 'expected device is not a partition', change: (d) => (withPartitions(d).expect.devices.pmem1p1 = { alive: true }), path: 'expect.devices.pmem1p1', message: /is a partition/ },
  { rule: 'holder is no namespace', change: (d) => (d.expect.devices.pmem0.holder = 'pmem1'), path: 'expect.devices.pmem0.holder', message: /got "pmem1", which is a pmem namespace/ },
  { rule: 'holder exists', change: (d) => (d.expect.devices.pmem0.holder = 'xfs1'), path: 'expect.devices.pmem0.holder', message: /expected none, a filesystem or a dm device, got "xfs1"/ },
  { rule: 'action result name', change: (d) => (d.expect.actionResults = [{ pfn: '0x123450', type: 'dax page', result: 'Recoverd' }]), path: 'expect.actionResults[0].result', message: /expected one of Ignored, Failed, Delayed, Recovered/ },
  { rule: 'page hwpoison required', change: (d) => (d.expect.pages = [{ pfn: '0x123450' }]), path: 'expect.pages[0].hwpoison', message: /required/ },
  { rule: 'pte inside a mapping', change: (d) => (d.expect.ptes = [{ pid: 100, addr: '0x7f0000010000', present: false }]), path: 'expect.ptes[0].addr', message: /outside every mapping of pid 100/ },
  { rule: 'unknown expect section', change: (d) => (d.expect.signal = []), path: 'expect.signal', message: /did you mean 'signals'/ },
];

describe('parseScenario: the example scenarios (scenarios/examples)', () => {
  const files = readdirSync(SCENARIOS).filter((f) => f.endsWith('.yaml'));

  it('finds the example files', () => {
    assert.ok(files.length >= 11, `only ${files.length} scenarios in ${SCENARIOS}`);
  });

  for (const file of files) {
    it(`accepts ${file}`, () => {
      const scenario = parsed(parseScenario(readFileSync(path.join(SCENARIOS, file), 'utf8'), file));
      assert.equal(scenario.file, file);
      assert.ok(scenario.name.length > 0);
    });
  }

  it('rejects invalid/madvise-unmapped-address.yaml at injections[0].madvise.addr', () => {
    const file = path.join(INVALID, 'madvise-unmapped-address.yaml');
    const issues = issuesOf(parseScenario(readFileSync(file, 'utf8'), file));
    assert.deepEqual(
      issues.map((i) => [i.file, i.path]),
      [[file, 'injections[0].madvise.addr']],
    );
    assert.match(issues[0]!.message, /is not mapped by pid 100/);
  });

  it('rejects invalid/reflink-without-feature.yaml at filesystems[0].files[1].extents[0]', () => {
    const file = path.join(INVALID, 'reflink-without-feature.yaml');
    const issues = issuesOf(parseScenario(readFileSync(file, 'utf8'), file));
    assert.deepEqual(
      issues.map((i) => [i.path, i.message]),
      [['filesystems[0].files[1].extents[0]', 'shares blocks 78416..78419 with /a but reflink is false']],
    );
  });

  it('reads 01-inj-poisons-own-page.yaml exactly', () => {
    const scenario = parsed(parseScenario(readFileSync(path.join(SCENARIOS, '01-inj-poisons-own-page.yaml'), 'utf8'), 'f'));
    assert.deepEqual(scenario.pmem, [
      {
        name: 'pmem0',
        physAddr: 0x1_0000_0000n,
        size: 16n << 30n,
        dataOffset: 0x1020_0000n,
        pfnPad: 0n,
        mode: 'fsdax',
        badblocks: [],
        partitions: [],
      },
    ]);
    assert.deepEqual(scenario.injections, [{ id: 'i1', kind: 'madvise', pid: 100, addr: 0x7f00_0000_0000n, pages: 1 }]);
    assert.deepEqual(scenario.expect, {
      injections: { i1: { rc: 0 } },
      signals: [{ pid: 100, signo: 'SIGBUS', code: 'BUS_MCEERR_AR', addr: 0x7f00_0000_0000n, lsb: 12 }],
      actionResults: [{ pfn: 0x123450n, type: 'dax page', result: 'Recovered' }],
      filesystems: { xfs0: { shutdown: 'none', dax: true } },
      devices: { pmem0: { alive: true, holder: 'xfs0' } },
      pages: [{ pfn: 0x123450n, hwpoison: true }],
      ptes: [{ pid: 100, addr: 0x7f00_0000_0000n, present: false }],
    });
  });

  it('reads 08-dm-linear-upstream-no-holder.yaml: dm table and the xfs on it', () => {
    const scenario = parsed(parseScenario(readFileSync(path.join(SCENARIOS, '08-dm-linear-upstream-no-holder.yaml'), 'utf8'), 'f'));
    assert.deepEqual(scenario.dm, [
      { name: 'dm0', mode: 'upstream', table: [{ begin: 0n, len: 8388608n, type: 'linear', device: 'pmem0', start: 2048n }] },
    ]);
    assert.equal(scenario.filesystems[0]!.device, 'dm0');
  });
});

describe('parseScenario: one broken rule per case', () => {
  it('the base document of the cases is valid', () => {
    parsed(parseDoc(base()));
  });

  for (const c of BROKEN) {
    it(`${c.rule}: ${c.path || '(file)'}`, () => {
      let text = c.text;
      if (text === undefined) {
        const doc = base();
        c.change(doc);
        text = stringify(doc);
      }
      const issues = issuesOf(parseScenario(text, 'case.yaml'));
      const hit = issues.find((i) => i.path === c.path && c.message.test(i.message));
      const listing = issues.map((i) => `  ${i.path}: ${i.message}`).join('\n');
      assert.ok(hit, `no issue at '${c.path}' matching ${c.message}; got:\n${listing}`);
      assert.equal(hit.file, 'case.yaml');
      if (!c.more) assert.equal(issues.length, 1, `expected only that issue; got:\n${listing}`);
    });
  }

  it('does not repeat an issue through the names, pids and mappings that depend on it', () => {
    const doc = withDm(base());
    doc.pmem[1].name = 'pmem 1'; // the dm table now names a device that failed its own check
    fs0(doc).name = 7; // and the expectations name a filesystem that did
    doc.processes[0].pid = 'x';
    doc.processes.push({ pid: 101, comm: 'b', mmaps: [{ fs: 'xfs0', path: '/a', start: '0x7f0000000800', pgoff: 0, pages: 1 }] });
    doc.injections.push({ id: 'i2', access: { pid: 101, addr: '0x7f0000000800' } });
    doc.expect.ptes = [{ pid: 101, addr: '0x7f0000000000', present: true }];
    assert.deepEqual(
      issuesOf(parseDoc(doc)).map((i) => i.path),
      ['pmem[1].name', 'filesystems[0].name', 'processes[0].pid', 'processes[1].mmaps[0].start'],
    );
  });

  it('collects every issue, not only the first', () => {
    const doc = base();
    doc.pmem[1].physAddr = '0x500000800';
    fs0(doc).blockSize = 3000;
    doc.processes[0].comm = 7;
    doc.injections[0].madvise.pid = 999;
    doc.expect.signals[0].code = 'nope';
    const paths = issuesOf(parseDoc(doc)).map((i) => i.path);
    assert.deepEqual(paths, [
      'pmem[1].physAddr',
      'filesystems[0].blockSize',
      'processes[0].comm',
      'injections[0].madvise.pid',
      'expect.signals[0].code',
    ]);
  });
});

describe('parseScenario: defaults and value forms', () => {
  const minimal = `
name: minimal
pmem:
  - { name: pmem0, physAddr: 0x100000000, size: 16GiB, dataOffset: "0x10200000" }
dm:
  - name: dm0
    table: [{ begin: 0, len: 8388608, type: linear, device: pmem0, start: 2048 }]
filesystems:
  - name: xfs0
    device: dm0
    agBlocks: 262144
    files:
      - { path: /f, ino: 131, extents: [{ offset: 0, block: 78416, count: 16 }] }
  - { name: e0, type: ext4, device: pmem0p1 }
processes:
  - pid: 100
    comm: t_mmap_cow_memory_failure
    mmaps:
      - { fs: xfs0, path: /f, start: "0x7f0000000000", pgoff: 0, pages: 4, faulted: all }
      - { fs: xfs0, path: /f, start: "0x7f1000000000", pgoff: 0, pages: 4 }
      - { fs: xfs0, path: /f, start: "0x7f2000000000", pgoff: 0, pages: 8, faulted: [5, 1, 5, 0] }
injections:
  - { id: a, mce: { pid: 100, pfn: "0x123456" } }
  - { id: b, unbind: { device: dm0, pid: 4242 } }
expect:
  injections: { a: { rc: "0" }, b: { rc: EFSCORRUPTED } }
  signals: [{ pid: 100, code: BUS_ADRERR }]
  filesystems: { xfs0: { mountError: null } }
`.replace('  - { name: pmem0,', '  - { name: pmem0, partitions: [{ name: pmem0p1, start: 8390656, sectors: 65536 }],');

  it('applies every documented default', () => {
    const s = parsed(parseScenario(minimal, '<string>'));
    assert.equal(s.description, '');
    assert.equal(s.file, '<string>');
    assert.deepEqual(s.sysctl, { memoryFailureEarlyKill: 0, memoryFailureRecovery: 1 });
    assert.equal(s.hwpoisonFilter, false);
    assert.equal(s.pmem[0]!.pfnPad, 0n);
    assert.equal(s.pmem[0]!.mode, 'fsdax');
    assert.deepEqual(s.pmem[0]!.badblocks, []);
    assert.equal(s.dm[0]!.mode, 'proposal');
    assert.deepEqual(s.filesystems[0], {
      name: 'xfs0',
      type: 'xfs',
      device: 'dm0',
      logDevice: undefined,
      blockSize: 4096,
      agBlocks: 262144n,
      agCount: undefined,
      rmapbt: true,
      reflink: true,
      dax: 'always',
      state: 'mounted',
      frozen: 'none',
      metadata: [],
      cowStaging: [],
      files: [
        {
          path: '/f',
          ino: 131n,
          kind: 'regular',
          cache: 'active',
          daxFlag: false,
          extents: [{ offset: 0n, block: 78416n, count: 16n }],
          attrBlocks: [],
          bmbtBlocks: [],
        },
      ],
    });
    const ext4 = s.filesystems[1]!;
    assert.deepEqual([ext4.type, ext4.agBlocks, ext4.rmapbt, ext4.reflink, ext4.blockSize], ['ext4', 32768n, false, false, 4096]);
    const p = s.processes[0]!;
    assert.deepEqual([p.mceKill, p.capSysAdmin], ['default', true]);
    assert.deepEqual(p.mmaps[1], {
      fs: 'xfs0',
      path: '/f',
      start: 0x7f10_0000_0000n,
      pgoff: 0n,
      pages: 4,
      shared: true,
      pmd: false,
      faulted: [],
    });
    assert.deepEqual(s.injections[0], { id: 'a', kind: 'mce', pid: 100, pfn: 0x123456n, ripv: true });
    assert.deepEqual(s.injections[1], { id: 'b', kind: 'unbind', device: 'dm0', pid: 4242 });
    assert.deepEqual(s.expect?.signals, [{ pid: 100, signo: 'SIGBUS', code: 'BUS_ADRERR', addr: undefined, lsb: undefined }]);
  });

  it('defaults each sysctl on its own', () => {
    const doc = base();
    doc.sysctl = { memoryFailureRecovery: 0 };
    assert.deepEqual(parsed(parseDoc(doc)).sysctl, { memoryFailureEarlyKill: 0, memoryFailureRecovery: 0 });
    doc.sysctl = { memoryFailureEarlyKill: 1 };
    assert.deepEqual(parsed(parseDoc(doc)).sysctl, { memoryFailureEarlyKill: 1, memoryFailureRecovery: 1 });
    doc.hwpoisonFilter = true;
    assert.equal(parsed(parseDoc(doc)).hwpoisonFilter, true);
  });

  it('expands faulted: all and sorts and dedupes a list', () => {
    const s = parsed(parseScenario(minimal, 'f'));
    assert.deepEqual(s.processes[0]!.mmaps[0]!.faulted, [0, 1, 2, 3]);
    assert.deepEqual(s.processes[0]!.mmaps[2]!.faulted, [0, 1, 5]);
  });

  it('truncates comm to 15 characters', () => {
    const s = parsed(parseScenario(minimal, 'f'));
    assert.equal(s.processes[0]!.comm, 't_mmap_cow_memo');
    assert.equal(truncateComm('short'), 'short');
    assert.equal(truncateComm('exactly15chars!'), 'exactly15chars!');
    // 15 bytes, as the kernel's TASK_COMM_LEN, never splitting a character
    assert.equal(truncateComm('ééééééééé'), 'ééééééé');
  });

  it('reads rc "0" as success and EFSCORRUPTED as EUCLEAN; keeps mountError: null', () => {
    const s = parsed(parseScenario(minimal, 'f'));
    assert.deepEqual(s.expect?.injections, { a: { rc: 0 }, b: { rc: 'EUCLEAN' } });
    assert.deepEqual(s.expect?.filesystems, { xfs0: { mountError: null } });
  });

  it('leaves expect undefined when the file has none, and lists only the sections given', () => {
    const doc = base();
    delete doc.expect;
    assert.equal(parsed(parseDoc(doc)).expect, undefined);
    const only = base();
    only.expect = { actionResults: [] };
    assert.deepEqual(parsed(parseDoc(only)).expect, { actionResults: [] });
  });

  it('accepts reflinked extents on a reflink xfs and ext4 groups crossed by an extent', () => {
    const doc = base();
    fs0(doc).files[1].extents[0].block = 78416;
    parsed(parseDoc(doc));
    const ext4 = base();
    Object.assign(fs0(ext4), { type: 'ext4', agBlocks: undefined });
    fs0(ext4).files[1].extents[0].block = 32760;
    parsed(parseDoc(ext4));
  });

  it('accepts metadata, attr, bmbt and CoW ranges that overlap file data or each other (cross-linked blocks)', () => {
    const doc = base();
    fs0(doc).files[1].attrBlocks = [{ block: 78420, count: 1 }];
    fs0(doc).files[1].bmbtBlocks = [{ block: 100, count: 1 }];
    fs0(doc).cowStaging = [{ block: 127, count: 2 }];
    parsed(parseDoc(doc));
  });

  it('accepts what a reader of the format may write (review of wrong rejections)', () => {
    const ext4 = base();
    Object.assign(fs0(ext4), { type: 'ext4', agBlocks: undefined, rmapbt: true, reflink: true });
    fs0(ext4).files[1].extents[0].block = 90000;
    const e = parsed(parseDoc(ext4)).filesystems[0];
    assert.equal(e?.rmapbt, false, 'ext4 reads rmapbt as false');
    assert.equal(e?.reflink, false, 'ext4 reads reflink as false');

    const cached = base();
    fs0(cached).files[0].cache = 'transient';
    parsed(parseDoc(cached));

    const unaligned = base();
    unaligned.injections[0].madvise.addr = '0x7f0000000800';
    parsed(parseDoc(unaligned));

    const underscores = base();
    underscores.pmem[0].physAddr = '0x1_0000_0000';
    assert.equal(parsed(parseDoc(underscores)).pmem[0]?.physAddr, 0x1_0000_0000n);

    const numericId = base();
    numericId.injections[0].id = 1;
    numericId.expect = { injections: { 1: { rc: 0 } } };
    assert.equal(parsed(parseDoc(numericId)).injections[0]?.id, '1');

    const raw = base();
    Object.assign(raw.pmem[0], { mode: 'raw', dataOffset: undefined });
    assert.equal(parsed(parseDoc(raw)).pmem[0]?.dataOffset, 0n);
  });

  it('reads expect.incidents (id and status) and mountError: none', () => {
    const doc = base();
    doc.expect = { incidents: [{ id: 'i1', status: 'complete', traceId: 'abc' }], filesystems: { xfs0: { mountError: 'none' } } };
    const e = parsed(parseDoc(doc)).expect;
    assert.deepEqual(e?.incidents, [{ id: 'i1', status: 'complete' }]);
    assert.equal(e?.filesystems?.xfs0?.mountError, null);
  });

  it('accepts madvise over two adjacent mappings and an unbind by an undeclared pid', () => {
    const doc = base();
    doc.processes[0].mmaps.push({ fs: 'xfs0', path: '/b', start: '0x7f0000010000', pgoff: 0, pages: 16 });
    doc.injections = [
      { id: 'i1', madvise: { pid: 100, addr: '0x7f000000f000', pages: 2 } },
      { id: 'i2', unbind: { device: 'pmem0', pid: 1 } },
      { id: 'i3', access: { pid: 100, addr: '0x7f0000010123' } },
    ];
    delete doc.expect;
    parsed(parseDoc(doc));
  });

  it('accepts a pmd mapping whose length is not a whole number of 2 MiB entries (the tail falls back to 4 KiB)', () => {
    const doc = base();
    Object.assign(mmap0(doc), { pmd: true, start: '0x7f0000000000', pgoff: 0, pages: 600 });
    fs0(doc).files[0].extents[0].count = 600;
    const r = parseDoc(doc);
    assert.ok(r.ok, r.ok ? '' : r.issues.map((i) => `${i.path}: ${i.message}`).join('; '));
  });

  it('accepts a pmd mapping that is 2 MiB aligned', () => {
    const doc = base();
    fs0(doc).files[0].extents[0] = { offset: 0, block: 78336, count: 512 };
    Object.assign(mmap0(doc), { pmd: true, pages: 512, start: '0x7f0000200000', faulted: 'all' });
    doc.injections[0].madvise.addr = '0x7f0000200000';
    delete doc.expect;
    assert.equal(parsed(parseDoc(doc)).processes[0]!.mmaps[0]!.faulted.length, 512);
  });

  it('reads integers as YAML numbers (also unquoted hex), hex strings, decimal strings and sizes', () => {
    const s = parsed(parseScenario(minimal, 'f'));
    assert.equal(s.pmem[0]!.physAddr, 0x1_0000_0000n); // `physAddr: 0x100000000`, a YAML int
    assert.equal(s.pmem[0]!.size, 16n << 30n); // `size: 16GiB`
    assert.equal(s.pmem[0]!.dataOffset, 0x1020_0000n); // `dataOffset: "0x10200000"`
    assert.equal(s.filesystems[0]!.blockSize, 4096);
    const doc = base();
    Object.assign(doc.pmem[1], { physAddr: '21474836480', size: '1 GiB', pfnPad: 4096 });
    const t = parsed(parseDoc(doc));
    assert.deepEqual([t.pmem[1]!.physAddr, t.pmem[1]!.size, t.pmem[1]!.pfnPad], [0x5_0000_0000n, 1n << 30n, 4096n]);
  });
});

describe('scenario-values', () => {
  const ok = (value: unknown, options = {}): bigint => {
    const result = parseInteger(value, options);
    if (!result.ok) assert.fail(result.message);
    return result.value;
  };
  const bad = (value: unknown, options = {}): string => {
    const result = parseInteger(value, options);
    assert.equal(result.ok, false, `${String(value)} should be refused`);
    return result.ok ? '' : result.message;
  };

  it('reads numbers, decimal and hex strings', () => {
    assert.equal(ok(4096n), 4096n);
    assert.equal(ok(4096), 4096n);
    assert.equal(ok('4096'), 4096n);
    assert.equal(ok('0x10200000'), 0x1020_0000n);
    assert.equal(ok('0X7F0000000000'), 0x7f00_0000_0000n);
    assert.equal(ok(' 0x1000 '), 4096n);
    assert.equal(ok('0010'), 10n);
    assert.equal(ok(1e3), 1000n);
    assert.equal(ok('0xffffffffffffffff'), (1n << 64n) - 1n);
  });

  it('reads binary size suffixes on sizes only', () => {
    assert.deepEqual(parseSize('16GiB'), { ok: true, value: 17_179_869_184n });
    assert.deepEqual(parseSize('2MiB'), { ok: true, value: 0x20_0000n });
    assert.deepEqual(parseSize('4KiB'), { ok: true, value: 4096n });
    assert.deepEqual(parseSize('1TiB'), { ok: true, value: 1n << 40n });
    assert.deepEqual(parseSize('16G'), { ok: true, value: 16n << 30n });
    assert.deepEqual(parseSize('4k'), { ok: true, value: 4096n });
    assert.deepEqual(parseSize('2 MiB'), { ok: true, value: 0x20_0000n });
    assert.deepEqual(parseSize(4096n), { ok: true, value: 4096n });
    assert.match(bad('16GiB'), /size suffix is only allowed on byte quantities/);
    assert.match(bad('16GB', { size: true }), /ambiguous/);
    assert.match(bad('16XiB', { size: true }), /unknown size suffix 'XiB'/);
    assert.match(bad('0x10MiB', { size: true }), /decimal number/);
    assert.match(bad('1.5GiB', { size: true }), /expected an integer or a size/);
    assert.match(bad('16384PiB', { size: true }), /does not fit in 64 bits/);
  });

  it('refuses non-integers, negatives, out-of-range and unsafe YAML numbers', () => {
    assert.match(bad(1.5), /expected an integer .*got 1\.5/);
    assert.match(bad(Number.NaN), /expected an integer/);
    assert.match(bad(true), /got true/);
    assert.match(bad(null), /got an empty value/);
    assert.match(bad(''), /got an empty string/);
    assert.match(bad('12abc'), /size suffix is only allowed/);
    assert.match(bad('abc'), /got "abc"/);
    assert.match(bad(-1n), /must not be negative, got -1/);
    assert.match(bad('-0x10'), /must not be negative, got -16/);
    assert.match(bad(0n, { min: 1n }), /at least 1, got 0/);
    assert.match(bad(9n, { max: 8n }), /at most 8, got 9/);
    assert.match(bad('0x10000000000000000'), /does not fit in 64 bits/);
    assert.match(bad(9_007_199_254_740_993n), /beyond 2\^53 .*"0x20000000000001"/);
    assert.match(bad(2 ** 60), /beyond 2\^53/);
    assert.equal(ok(9_007_199_254_740_991n), 9_007_199_254_740_991n);
  });

  it('formats hex in lower case with 0x', () => {
    assert.equal(formatHex(0x7f00_0000_0000n), '0x7f0000000000');
    assert.equal(formatHex(0n), '0x0');
  });
});
