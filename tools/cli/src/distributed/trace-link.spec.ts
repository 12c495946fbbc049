import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';

import { traceLinker, traceUrl, TraceLinkError, traceUrlTemplate } from './trace-link';

const ID = '3f2b9c1e-8d4a-4b7e-9a61-0c5d2e7f4a10';
const TRACE = '3f2b9c1e8d4a4b7e9a610c5d2e7f4a10';

describe('traceUrl', () => {
  it('fills the incident trace id (its uuid without dashes) into the template, everywhere it appears', () => {
    assert.equal(traceUrl('http://127.0.0.1:9411/zipkin/traces/{traceId}', ID), `http://127.0.0.1:9411/zipkin/traces/${TRACE}`);
    assert.equal(traceUrl('http://h/trace/{traceId}?q={traceId}', ID.toUpperCase()), `http://h/trace/${TRACE}?q=${TRACE}`);
  });

  it('gives no link for an id that is not an incident uuid', () => {
    assert.equal(traceUrl('http://h/{traceId}', 'model-1'), undefined);
  });
});

describe('traceUrlTemplate: MFSIM_TRACE_URL, else the stack state, else none', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'mfsim-trace-link-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const empty = path.join(dir, 'empty');
  const withZipkin = path.join(dir, 'zipkin');

  it('none when neither is there', () => {
    assert.equal(traceUrlTemplate({ MFSIM_STACK_DIR: empty }), undefined);
    assert.equal(traceLinker({ MFSIM_STACK_DIR: empty }), undefined);
  });

  it("the Zipkin `mfsim stack up` recorded", () => {
    mkdirSync(withZipkin, { recursive: true });
    writeFileSync(path.join(withZipkin, 'state.json'), JSON.stringify({ services: {}, zipkin: { pid: 1, port: 19411, logFile: 'x', traceUrl: 'http://127.0.0.1:19411/zipkin/traces/{traceId}' } }));
    assert.equal(traceUrlTemplate({ MFSIM_STACK_DIR: withZipkin }), 'http://127.0.0.1:19411/zipkin/traces/{traceId}');
    assert.equal(traceLinker({ MFSIM_STACK_DIR: withZipkin })?.(ID), `http://127.0.0.1:19411/zipkin/traces/${TRACE}`);
  });

  it('a stack up with --no-traces records none: no link', () => {
    const dir2 = path.join(dir, 'notraces');
    mkdirSync(dir2, { recursive: true });
    writeFileSync(path.join(dir2, 'state.json'), JSON.stringify({ services: {} }));
    assert.equal(traceUrlTemplate({ MFSIM_STACK_DIR: dir2 }), undefined);
  });

  it('MFSIM_TRACE_URL wins (e.g. the compose stack’s Jaeger)', () => {
    assert.equal(traceUrlTemplate({ MFSIM_STACK_DIR: withZipkin, MFSIM_TRACE_URL: 'http://127.0.0.1:16686/trace/{traceId}' }), 'http://127.0.0.1:16686/trace/{traceId}');
  });

  it('a bad MFSIM_TRACE_URL is one line naming the problem', () => {
    for (const [value, problem] of [
      ['http://127.0.0.1:9411/zipkin/traces/', /has no \{traceId\} in it/],
      ['not a url {traceId}', /it is not a URL/],
      ['ftp://h/{traceId}', /must start with http:\/\/ or https:\/\//],
    ] as const) {
      assert.throws(
        () => traceUrlTemplate({ MFSIM_STACK_DIR: empty, MFSIM_TRACE_URL: value }),
        (err: unknown) => err instanceof TraceLinkError && err.message.startsWith(`MFSIM_TRACE_URL="${value}": `) && problem.test(err.message) && !err.message.includes('\n'),
      );
    }
  });
});
