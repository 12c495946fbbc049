/**
 * The CLI's manners, run as a user runs it: `node tools/cli/bin/mfsim.js …` as a child process.
 * Exit codes and messages only; nothing here depends on how fast the machine is (the child
 * timeouts are hang guards).
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';

const REPO = resolve(__dirname, '../../../..');
const MFSIM = join(REPO, 'tools/cli/bin/mfsim.js');
const EXAMPLE = join(REPO, 'scenarios/examples/01-inj-poisons-own-page.yaml');

function mfsim(args: string[]): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [MFSIM, ...args], { cwd: REPO, encoding: 'utf8', timeout: 60_000 });
}

const scratch = mkdtempSync(join(tmpdir(), 'mfsim-cli-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

describe('mfsim --help and --version', () => {
  const paths = [[], ['scenario'], ['scenario', 'run'], ['scenario', 'check'], ['stack'], ['stack', 'up'], ['stack', 'status'], ['stack', 'down']];
  for (const words of paths) {
    it(`mfsim ${[...words, '--help'].join(' ')} prints usage, exit codes and an example, exit 0`, () => {
      const r = mfsim([...words, '--help']);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /usage:/);
      assert.match(r.stdout, /exit status:/);
      assert.match(r.stdout, /example:/);
      assert.equal(r.stderr, '');
    });
  }

  it('-h after options works too, and `mfsim help scenario run` is the same text', () => {
    assert.equal(mfsim(['scenario', 'run', '--json', '-h']).stdout, mfsim(['scenario', 'run', '--help']).stdout);
    assert.equal(mfsim(['help', 'scenario', 'run']).stdout, mfsim(['scenario', 'run', '--help']).stdout);
  });

  it('--version prints the version, exit 0', () => {
    const r = mfsim(['--version']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^mfsim \d+\.\d+\.\d+\n$/);
  });

  it('an unknown command or subcommand is exit 2 with the usage', () => {
    assert.equal(mfsim(['nonsense']).status, 2);
    const r = mfsim(['scenario', 'nonsense']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown subcommand nonsense/);
  });
});

describe('mfsim scenario run|check: what counts as a FILE or DIR', () => {
  it('a directory without scenario files: run, run --json and check all exit 2 naming it', () => {
    const empty = join(scratch, 'empty');
    mkdirSync(empty);
    writeFileSync(join(empty, 'notes.txt'), 'not a scenario\n');
    for (const args of [['run'], ['run', '--json'], ['check']]) {
      const r = mfsim(['scenario', ...args, empty]);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stdout}`);
      assert.match(r.stderr, new RegExp(`no scenario files in ${empty.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
      assert.equal(r.stdout, '');
    }
  });

  it('a FIFO is refused at once (exit 2), never read', { skip: process.platform === 'win32' }, () => {
    const fifo = join(scratch, 'pipe.yaml');
    assert.equal(spawnSync('mkfifo', [fifo]).status, 0, 'mkfifo failed');
    for (const sub of ['run', 'check']) {
      const r = mfsim(['scenario', sub, fifo]);
      assert.equal(r.status, 2);
      assert.match(r.stderr, /is a FIFO; a scenario FILE must be a regular file/);
    }
  });

  it('check refuses an option it does not know', () => {
    const r = mfsim(['scenario', 'check', '--json', EXAMPLE]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown option --json/);
  });

  it('a missing file is exit 2 naming it', () => {
    const r = mfsim(['scenario', 'run', join(scratch, 'missing.yaml')]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /missing\.yaml: cannot read the file: ENOENT/);
  });
});

describe('mfsim scenario run into a closed pipe', () => {
  it('ends quietly: exit 0, no stack trace', async () => {
    const child = spawn(process.execPath, [MFSIM, 'scenario', 'run', join(REPO, 'scenarios/examples')], { cwd: REPO });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout.once('data', () => child.stdout.destroy());
    const code = await new Promise<number | null>((done) => child.on('close', (c) => done(c)));
    assert.equal(stderr, '');
    assert.equal(code, 0);
  });
});
