import assert from 'node:assert/strict';
import * as net from 'node:net';
import { after, before, describe, it } from 'node:test';

import { parseProxyArgs } from './proxy-main';
import { parseToxic, ProxyControl, ProxyError, ProxyServer, TcpProxy } from './tcp-proxy';

/** An echo server on a free loopback port. */
async function echoServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `text` and waits for it to come back: the round trip in ms, or an error / 'timeout'. */
function roundTrip(s: net.Socket, text: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let got = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error('timeout'));
    }, timeoutMs);
    const onData = (b: Buffer) => {
      got += b.toString();
      if (got.length >= text.length) {
        cleanup();
        resolve(Date.now() - t0);
      }
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    const onClose = () => {
      cleanup();
      reject(Object.assign(new Error('closed'), { code: 'CLOSED' }));
    };
    const cleanup = () => {
      clearTimeout(timer);
      s.off('data', onData);
      s.off('error', onError);
      s.off('close', onClose);
    };
    s.on('data', onData);
    s.on('error', onError);
    s.on('close', onClose);
    s.write(text);
  });
}

describe('TcpProxy (real sockets through an echo server)', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let proxy: TcpProxy;
  before(async () => {
    echo = await echoServer();
    proxy = new TcpProxy({ name: 'svc->echo', listenPort: 0, upstreamHost: '127.0.0.1', upstreamPort: echo.port });
    await proxy.listen();
  });
  after(async () => {
    await proxy.close();
    await echo.close();
  });

  it('forwards bytes both ways and counts them', async () => {
    const s = await connect(proxy.listenPort);
    const before = { ...proxy.counters };
    await roundTrip(s, 'hello', 2000);
    s.destroy();
    assert.equal(proxy.counters.bytesUp - before.bytesUp, 5);
    assert.equal(proxy.counters.bytesDown - before.bytesDown, 5);
    assert.ok(proxy.counters.connections >= 1);
  });

  it('latency: a round trip takes at least the configured delay per direction, and the applied delay is counted; removal heals', async () => {
    const s = await connect(proxy.listenPort);
    proxy.addToxic(parseToxic({ type: 'latency', latencyMs: 300, jitterMs: 20, direction: 'upstream' }));
    const up = await roundTrip(s, 'ping', 5000);
    assert.ok(up >= 280, `one direction delayed: ${up} ms`);
    proxy.addToxic(parseToxic({ type: 'latency', latencyMs: 300, jitterMs: 20 }));
    const both = await roundTrip(s, 'ping', 5000);
    assert.ok(both >= 560, `both directions delayed: ${both} ms`);
    assert.ok(proxy.counters.appliedDelayMsMax >= 280, `applied ${proxy.counters.appliedDelayMsMax}`);
    assert.ok(proxy.counters.delayedChunks >= 2);
    proxy.clearToxics();
    const healed = await roundTrip(s, 'ping', 5000);
    assert.ok(healed < 250, `healed: ${healed} ms`);
    s.destroy();
  });

  it('latency with jitter keeps the order of the bytes', async () => {
    const s = await connect(proxy.listenPort);
    proxy.addToxic(parseToxic({ name: 'jittery', type: 'latency', latencyMs: 20, jitterMs: 19 }));
    let got = '';
    s.on('data', (b: Buffer) => (got += b.toString()));
    const want = Array.from({ length: 30 }, (_, i) => `<${i}>`).join('');
    for (let i = 0; i < 30; i += 1) {
      s.write(`<${i}>`);
      await new Promise((r) => setTimeout(r, 2));
    }
    const deadline = Date.now() + 5000;
    while (got.length < want.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(got, want);
    proxy.removeToxic('jittery');
    s.destroy();
  });

  it('blackhole: the connection stays open and no answer comes; removal heals new traffic', async () => {
    const s = await connect(proxy.listenPort);
    proxy.addToxic(parseToxic({ type: 'blackhole' }));
    const dropped = proxy.counters.blackholedBytes;
    await assert.rejects(roundTrip(s, 'lost', 400), /timeout/);
    assert.equal(s.destroyed, false);
    assert.ok(proxy.counters.blackholedBytes > dropped);
    assert.equal(proxy.removeToxic('blackhole'), true);
    const t = await roundTrip(s, 'back', 2000);
    assert.ok(t < 200);
    s.destroy();
  });

  it('reset: an open connection and a new one get ECONNRESET; removal heals', async () => {
    const open = await connect(proxy.listenPort);
    await roundTrip(open, 'x', 2000);
    const errored = new Promise<string | undefined>((resolve) => open.once('error', (e: NodeJS.ErrnoException) => resolve(e.code)));
    const resets = proxy.counters.resets;
    proxy.addToxic(parseToxic({ type: 'reset' }));
    assert.equal(await errored, 'ECONNRESET');
    // A new connection is reset as soon as it is accepted (at connect or at the first write).
    await assert.rejects(
      connect(proxy.listenPort).then((fresh) => roundTrip(fresh, 'y', 2000)),
      (e: NodeJS.ErrnoException) => e.code === 'ECONNRESET',
    );
    assert.ok(proxy.counters.resets >= resets + 2);
    proxy.removeToxic('reset');
    const healed = await connect(proxy.listenPort);
    assert.ok((await roundTrip(healed, 'z', 2000)) < 200);
    healed.destroy();
  });
});

describe('ProxyServer control API', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let server: ProxyServer;
  let base: string;
  const refused: string[] = [];
  before(async () => {
    echo = await echoServer();
    server = new ProxyServer({ adminToken: 's3cret', log: (l) => refused.push(l) });
    await server.add({ name: 'a->echo', listenPort: 0, upstreamHost: '127.0.0.1', upstreamPort: echo.port });
    base = `http://127.0.0.1:${await server.listenControl(0)}`;
  });
  after(async () => {
    await server.close();
    await echo.close();
  });

  it('lists proxies with counters, adds and removes toxics with the token', async () => {
    const control = new ProxyControl(base, 's3cret');
    const list = await control.list();
    assert.deepEqual(Object.keys(list), ['a->echo']);
    assert.equal(list['a->echo']?.upstream, `127.0.0.1:${echo.port}`);
    await control.addToxic('a->echo', { name: 'slow', type: 'latency', latencyMs: 50 });
    assert.deepEqual((await control.proxy('a->echo')).toxics, [{ name: 'slow', type: 'latency', latencyMs: 50, jitterMs: 0, direction: 'both' }]);
    await control.removeToxic('a->echo', 'slow');
    await control.removeToxic('a->echo', 'slow'); // idempotent
    assert.deepEqual((await control.proxy('a->echo')).toxics, []);
  });

  it('refuses a state change without or with a wrong token (401, logged without the token), GET stays open', async () => {
    const none = await fetch(`${base}/proxies/a->echo/toxics`, { method: 'POST', body: '{"type":"reset"}' });
    assert.equal(none.status, 401);
    assert.match(((await none.json()) as { message: string }).message, /Authorization: Bearer/);
    await assert.rejects(new ProxyControl(base, 'wrong').addToxic('a->echo', { type: 'reset' }), (e: ProxyError) => e.status === 401);
    assert.equal(server.get('a->echo').listToxics().length, 0);
    assert.ok(refused.some((l) => /proxy\.admin_refused .*reason=wrong token/.test(l)));
    assert.ok(refused.every((l) => !l.includes('s3cret')));
    assert.equal((await fetch(`${base}/proxies`)).status, 200);
  });

  it('names a bad toxic field and an unknown proxy in one line', async () => {
    const control = new ProxyControl(base, 's3cret');
    await assert.rejects(control.addToxic('a->echo', { type: 'latency', latencyMs: -1 }), /toxic\.latencyMs: expected an integer/);
    await assert.rejects(control.addToxic('a->echo', { type: 'slow' }), /toxic\.type: expected/);
    await assert.rejects(control.addToxic('nope', { type: 'reset' }), /404 no proxy named nope/);
  });
});

describe('parseProxyArgs', () => {
  it('reads the control port and NAME=LISTEN_PORT=HOST:PORT proxies', () => {
    assert.deepEqual(parseProxyArgs(['--control-port', '7890', '--proxy', 'xfs-fs->postgres=7801=127.0.0.1:5432']), {
      controlPort: 7890,
      proxies: [{ name: 'xfs-fs->postgres', listenPort: 7801, upstreamHost: '127.0.0.1', upstreamPort: 5432 }],
    });
  });
  it('names what is wrong', () => {
    assert.throws(() => parseProxyArgs([]), /--control-port is missing/);
    assert.throws(() => parseProxyArgs(['--control-port', '70000']), /not a TCP port/);
    assert.throws(() => parseProxyArgs(['--control-port', '1', '--proxy', 'x=1']), /expected NAME=LISTEN_PORT=HOST:PORT/);
    assert.throws(() => parseProxyArgs(['--control-port', '1', '--proxy', 'x=1=h:2', '--proxy', 'x=3=h:4']), /given twice/);
  });
});
