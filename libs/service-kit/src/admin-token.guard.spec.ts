import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { ExecutionContext, Logger, UnauthorizedException } from '@nestjs/common';

import { AdminTokenGuard, bearerTokenMatches } from './admin-token.guard';
import { parseServiceEnv, ServiceEnv } from './env';
import { ChaosFlags } from './hop/chaos-flags';

function env(token?: string): ServiceEnv {
  const r = parseServiceEnv({ service: 'xfs-fs', defaultHttpPort: 7104 }, token === undefined ? {} : { MFSIM_ADMIN_TOKEN: token });
  assert.ok(r.success);
  return r.env;
}

function http(method: string, url: string, authorization?: string): ExecutionContext {
  const req = { method, url, originalUrl: url, ip: '127.0.0.1', headers: authorization === undefined ? {} : { authorization } };
  return { getType: () => 'http', switchToHttp: () => ({ getRequest: () => req }) } as unknown as ExecutionContext;
}

describe('AdminTokenGuard', () => {
  it('lets everything through when no token is configured (an empty one is none)', () => {
    assert.equal(new AdminTokenGuard(env()).canActivate(http('POST', '/runs/r1')), true);
    assert.equal(env('  ').MFSIM_ADMIN_TOKEN, undefined);
  });

  it('with a token: reads are open, state changes need the right bearer token, refusals are logged without the token', () => {
    const guard = new AdminTokenGuard(env('s3cret-token'));
    const logged: string[] = [];
    const original = Logger.prototype.warn;
    Logger.prototype.warn = function (message: unknown) {
      logged.push(String(message));
    };
    try {
      assert.equal(guard.canActivate(http('GET', '/runs/r1/state')), true);
      assert.equal(guard.canActivate(http('POST', '/runs/r1', 'Bearer s3cret-token')), true);
      assert.throws(() => guard.canActivate(http('POST', '/runs/r1')), (e: UnauthorizedException) => e.getStatus() === 401 && /missing token/.test(e.message));
      assert.throws(() => guard.canActivate(http('DELETE', '/runs/r1?x=1', 'Bearer nope')), /DELETE \/runs\/r1 needs .*wrong token/);
      assert.throws(() => guard.canActivate(http('POST', '/chaos/flags', 's3cret-token')), /wrong token/);
    } finally {
      Logger.prototype.warn = original;
    }
    assert.deepEqual(logged, [
      'admin.refused method=POST path=/runs/r1 reason=missing token peer=127.0.0.1',
      'admin.refused method=DELETE path=/runs/r1 reason=wrong token peer=127.0.0.1',
      'admin.refused method=POST path=/chaos/flags reason=wrong token peer=127.0.0.1',
    ]);
  });

  it('compares whole tokens', () => {
    assert.equal(bearerTokenMatches('Bearer abcdefgh', 'abcdefgh'), true);
    assert.equal(bearerTokenMatches('Bearer abcdefg', 'abcdefgh'), false);
    assert.equal(bearerTokenMatches('Bearer abcdefghi', 'abcdefgh'), false);
    assert.equal(bearerTokenMatches('bearer abcdefgh', 'abcdefgh'), false);
    assert.equal(bearerTokenMatches(undefined, 'abcdefgh'), false);
  });

  it('a too short token is a configuration error naming the variable', () => {
    const r = parseServiceEnv({ service: 'xfs-fs', defaultHttpPort: 7104 }, { MFSIM_ADMIN_TOKEN: 'short' });
    assert.equal(r.success, false);
    assert.match((r as { message: string }).message, /^xfs-fs: invalid configuration: MFSIM_ADMIN_TOKEN: expected at least 8 characters/);
  });
});

describe('ChaosFlags', () => {
  it('sets named flags, refuses unknown or bad ones naming them, and counts what it slowed', async () => {
    const flags = new ChaosFlags();
    assert.deepEqual(flags.get(), { slowHandlerMs: 0, consumerDelayMs: 0, stepsSlowed: 0, messagesDelayed: 0 });
    await flags.beforeStep();
    await flags.beforeMessage();
    assert.equal(flags.get().stepsSlowed, 0);
    flags.set({ slowHandlerMs: 30 });
    const t0 = Date.now();
    await flags.beforeStep();
    assert.ok(Date.now() - t0 >= 25);
    assert.equal(flags.get().stepsSlowed, 1);
    flags.set({ consumerDelayMs: 20 });
    await flags.beforeMessage();
    assert.deepEqual(flags.get(), { slowHandlerMs: 30, consumerDelayMs: 20, stepsSlowed: 1, messagesDelayed: 1 });
    assert.throws(() => flags.set({ slowHandler: 1 }), /unknown flag "slowHandler"/);
    assert.throws(() => flags.set({ consumerDelayMs: -1 }), /consumerDelayMs: expected an integer/);
    assert.throws(() => flags.set(null), /body must be/);
    flags.set({ slowHandlerMs: 0, consumerDelayMs: 0 });
    assert.equal(flags.get().slowHandlerMs, 0);
  });
});
