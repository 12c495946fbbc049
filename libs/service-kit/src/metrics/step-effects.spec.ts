import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  answerRead,
  handleIncoming,
  mappingId,
  MF,
  subsystemHost,
  type CallRecord,
  type Incoming,
  type Kernel,
  type OpName,
  type Subsystem,
} from '@mfsim/kernel-model';
// The model's own Given helpers (built with it, not part of its API).
import { givenTask, givenTestfileMachine } from '@mfsim/kernel-model/dist/test-kit';

import { NO_EFFECTS, snapshotStep, stepEffects, type StepEffects } from './step-effects';

const ADDR = 0x7f20_0000_0000n;
const TESTFILE_BLOCK = 78416n;

/** One host step as HopHost runs it: snapshot, handleIncoming over the subsystem's state, diff. */
async function step(k: Kernel, subsys: Subsystem, records: Map<string, CallRecord>, incoming: Incoming): Promise<{ effects: StepEffects; duplicate: boolean }> {
  const state = k[subsys];
  const host = subsystemHost(subsys, state, records, (op, args) => answerRead(k, { op, args }));
  const before = snapshotStep(subsys, state, records);
  const r = await handleIncoming(host, incoming);
  return { effects: stepEffects(subsys, before, state, records, r.touched), duplicate: r.duplicate };
}

function call(id: string, op: OpName, args: unknown, current: number | null, from: Subsystem | 'user' = 'xfs'): Incoming {
  return { kind: 'call', id, op, args, ctx: { current }, chain: `${id}-caller`, from };
}

function killCall(current: number | null): Incoming {
  return call('i1.0.0.0.0', 'mm.mfDaxKillProcs', { mapping: mappingId('xfs0', 131n), pgoff: 0n, pgcnt: 1n, mfFlags: MF.MF_ACTION_REQUIRED }, current);
}

describe('stepEffects: what a step newly did, read from the model', () => {
  it('mf_dax_kill_procs on a page the current task maps: one BUS_MCEERR_AR and one unmap of one page', async () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 201, mmaps: [{ ino: 131n, start: ADDR, pages: 1n, faulted: [0n] }] });
    const { effects, duplicate } = await step(k, 'mm', new Map(), killCall(201));
    assert.equal(duplicate, false);
    assert.deepEqual(effects, { signals: [{ signo: 'SIGBUS', code: 'BUS_MCEERR_AR' }], shutdowns: [], unmaps: [1] });
  });

  it('early kill, two processes map the page, neither is current: two BUS_MCEERR_AO, one unmap of two entries', async () => {
    const { k } = givenTestfileMachine({ earlyKill: 1 });
    givenTask(k, { pid: 201, mmaps: [{ ino: 131n, start: ADDR, pages: 1n, faulted: [0n] }] });
    givenTask(k, { pid: 202, mmaps: [{ ino: 131n, start: ADDR, pages: 1n, faulted: [0n] }] });
    const { effects } = await step(k, 'mm', new Map(), killCall(null));
    assert.deepEqual(effects.signals, [
      { signo: 'SIGBUS', code: 'BUS_MCEERR_AO' },
      { signo: 'SIGBUS', code: 'BUS_MCEERR_AO' },
    ]);
    assert.deepEqual(effects.unmaps, [2]);
  });

  it('a redelivered call is answered again but counts nothing a second time', async () => {
    const { k } = givenTestfileMachine();
    givenTask(k, { pid: 201, mmaps: [{ ino: 131n, start: ADDR, pages: 1n, faulted: [0n] }] });
    const records = new Map<string, CallRecord>();
    await step(k, 'mm', records, killCall(201));
    const again = await step(k, 'mm', records, killCall(201));
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.effects, NO_EFFECTS);
    assert.equal(k.mm.signals.length, 1);
  });

  it('nobody maps the page: no signal, no unmap', async () => {
    const { k } = givenTestfileMachine();
    const { effects } = await step(k, 'mm', new Map(), killCall(201));
    assert.deepEqual(effects, NO_EFFECTS);
  });

  it('xfs_dax_notify_failure on metadata: one shutdown, SHUTDOWN_CORRUPT_ONDISK; a second failure does not shut down again', async () => {
    const { k } = givenTestfileMachine({ xfs: { metadata: [{ owner: 'OWN_INOBT', block: 96n, count: 32n }] } });
    const notify = (id: string, block: bigint): Incoming =>
      call(id, 'xfs.xfsDaxNotifyFailure', { fs: 'xfs0', daxDev: 'pmem0', offset: block * 4096n, len: 4096n, mfFlags: 0x20 }, null, 'dax');
    const first = await step(k, 'xfs', new Map(), notify('i1.0.0.0', 100n));
    assert.deepEqual(first.effects, { signals: [], shutdowns: ['SHUTDOWN_CORRUPT_ONDISK'], unmaps: [] });
    const second = await step(k, 'xfs', new Map(), notify('i2.0.0.0', 101n));
    assert.deepEqual(second.effects, NO_EFFECTS);
  });

  it('file data on xfs is no shutdown (the kill is mm-process\'s step, not counted here)', async () => {
    const { k } = givenTestfileMachine();
    const records = new Map<string, CallRecord>();
    const { effects } = await step(k, 'xfs', records, call('i1.0.0.0', 'xfs.xfsDaxNotifyFailure', { fs: 'xfs0', daxDev: 'pmem0', offset: TESTFILE_BLOCK * 4096n, len: 4096n, mfFlags: 0x20 }, null, 'dax'));
    assert.deepEqual(effects, NO_EFFECTS);
  });

  it('other subsystems never report kernel effects', () => {
    const { k } = givenTestfileMachine();
    const before = snapshotStep('pmem', k.pmem, new Map());
    assert.deepEqual(stepEffects('pmem', before, k.pmem, new Map(), new Set()), NO_EFFECTS);
  });
});
