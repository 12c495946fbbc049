import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CHAOS_TAG, GrafanaError, postFaultAnnotation } from './grafana';

interface Seen {
  url: string;
  init: RequestInit;
}

/** A fetch that records the request and answers as Grafana would. */
function grafana(status: number, body: string, seen: Seen[]): typeof fetch {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    seen.push({ url: String(input), init: init ?? {} });
    return new Response(body, { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

const FAULT = { kind: 'pause', target: 'xfs-fs', startMs: 1_760_000_000_000, endMs: 1_760_000_004_500 };

describe('postFaultAnnotation', () => {
  it('posts one region annotation tagged chaos, kind and target, and returns its id', async () => {
    const seen: Seen[] = [];
    const id = await postFaultAnnotation('http://127.0.0.1:3000/', FAULT, { fetch: grafana(200, '{"id":42,"message":"Annotation added"}', seen) });
    assert.equal(id, 42);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.url, 'http://127.0.0.1:3000/api/annotations');
    assert.equal(seen[0]?.init.method, 'POST');
    const body = JSON.parse(String(seen[0]?.init.body)) as Record<string, unknown>;
    assert.deepEqual(body, {
      time: FAULT.startMs,
      timeEnd: FAULT.endMs,
      tags: [CHAOS_TAG, 'pause', 'xfs-fs'],
      text: 'chaos: pause on xfs-fs (4.5 s)',
    });
    assert.equal((seen[0]?.init.headers as Record<string, string>).authorization, undefined);
  });

  it('sends user:password from the URL as basic auth (not in the URL), or a token as bearer', async () => {
    const seen: Seen[] = [];
    await postFaultAnnotation('http://admin:s%40cret@grafana:3000/sub', FAULT, { fetch: grafana(200, '{"id":1}', seen) });
    assert.equal(seen[0]?.url, 'http://grafana:3000/sub/api/annotations');
    assert.equal((seen[0]?.init.headers as Record<string, string>).authorization, `Basic ${Buffer.from('admin:s@cret').toString('base64')}`);
    await postFaultAnnotation('http://grafana:3000', FAULT, { token: 'glsa_x', fetch: grafana(200, '{"id":2}', seen) });
    assert.equal((seen[1]?.init.headers as Record<string, string>).authorization, 'Bearer glsa_x');
  });

  it('refuses bad input in one line before sending anything', async () => {
    const seen: Seen[] = [];
    const f = grafana(200, '{"id":1}', seen);
    const cases: [string, typeof FAULT, RegExp][] = [
      ['grafana:3000', FAULT, /expected an http\(s\) URL/],
      ['not a url', FAULT, /not a URL/],
      ['http://g', { ...FAULT, kind: ' ' }, /fault kind must be a non-empty string/],
      ['http://g', { ...FAULT, startMs: 1.5 }, /fault startMs must be epoch milliseconds/],
      ['http://g', { ...FAULT, endMs: FAULT.startMs - 1 }, /ends .* before it starts/],
    ];
    for (const [url, fault, want] of cases) {
      await assert.rejects(postFaultAnnotation(url, fault, { fetch: f }), (err: unknown) => err instanceof GrafanaError && want.test(err.message) && !err.message.includes('\n'));
    }
    assert.equal(seen.length, 0);
  });

  it('a refusal or an unreachable Grafana is a GrafanaError naming the status or the cause', async () => {
    await assert.rejects(postFaultAnnotation('http://g:3000', FAULT, { fetch: grafana(401, '{"message":"Unauthorized"}', []) }), /answered 401: \{"message":"Unauthorized"\}/);
    await assert.rejects(postFaultAnnotation('http://g:3000', FAULT, { fetch: grafana(200, '{"message":"ok"}', []) }), /without an annotation id/);
    const down = (async () => {
      throw new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:3000') });
    }) as typeof fetch;
    await assert.rejects(postFaultAnnotation('http://127.0.0.1:3000', FAULT, { fetch: down }), /cannot reach http:\/\/127\.0\.0\.1:3000: connect ECONNREFUSED/);
  });
});
