/**
 * The Docker probe answers quickly and only says "available" when something answered /_ping like
 * an engine. Uses Unix sockets in a temp dir (no network); the "engine" here is a plain HTTP server
 * on such a socket, since no real Docker engine exists on the machines this runs on.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { DEFAULT_DOCKER_PROBE_TIMEOUT_MS, DEFAULT_DOCKER_SOCKET, probeDockerEngine } from './docker-engine';

/** Generous: the probe must not hang, but a loaded 2-core CI machine must not fail it either. */
const SLACK_MS = 3_000;

describe('probeDockerEngine', () => {
  let dir: string;
  const servers: Array<http.Server | net.Server> = [];
  const sockets = new Set<net.Socket>();

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'mfsim-docker-probe-'));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    rmSync(dir, { recursive: true, force: true });
  });

  /** Listens on a new socket in `dir` with `handler`, returns the socket path. */
  async function listen(name: string, server: http.Server | net.Server): Promise<string> {
    const socketPath = path.join(dir, name);
    server.on('connection', (s: net.Socket) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    return socketPath;
  }

  it('answers "no engine" at once when the socket does not exist', async () => {
    const socketPath = path.join(dir, 'missing.sock');
    const r = await probeDockerEngine({ env: { DOCKER_HOST: `unix://${socketPath}` } });
    assert.equal(r.available, false);
    assert.equal(r.reason, `no socket at ${socketPath}`);
    assert.equal(r.endpoint, `unix://${socketPath}`);
    assert.ok(r.elapsedMs < SLACK_MS, `took ${r.elapsedMs} ms`);
  });

  it('uses the default socket when DOCKER_HOST is unset or blank', async () => {
    const socketPath = path.join(dir, 'default-missing.sock');
    for (const env of [{}, { DOCKER_HOST: '  ' }]) {
      const r = await probeDockerEngine({ env, defaultSocket: socketPath });
      assert.equal(r.endpoint, `unix://${socketPath}`);
      assert.equal(r.available, false);
    }
    assert.equal(DEFAULT_DOCKER_SOCKET, '/var/run/docker.sock');
  });

  it('is available when /_ping answers 200 "OK", with the API version from the headers', async () => {
    const socketPath = await listen(
      'engine.sock',
      http.createServer((req, res) => {
        if (req.method === 'GET' && req.url === '/_ping') {
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Api-Version': '1.47', Ostype: 'linux' });
          res.end('OK');
        } else {
          res.writeHead(404).end();
        }
      }),
    );
    const r = await probeDockerEngine({ env: { DOCKER_HOST: `unix://${socketPath}` } });
    assert.deepEqual({ available: r.available, detail: r.detail, reason: r.reason }, { available: true, detail: 'API 1.47, linux', reason: undefined });
  });

  it('is not available when something else answers', async () => {
    const socketPath = await listen(
      'not-docker.sock',
      http.createServer((_req, res) => {
        res.writeHead(500).end('nope');
      }),
    );
    const r = await probeDockerEngine({ env: { DOCKER_HOST: `unix://${socketPath}` } });
    assert.equal(r.available, false);
    assert.match(r.reason ?? '', /answered \/_ping with 500 "nope", not 200 "OK"/);
  });

  it('gives up after the timeout when the socket accepts but never answers', async () => {
    const socketPath = await listen('silent.sock', net.createServer(() => undefined));
    const r = await probeDockerEngine({ env: { DOCKER_HOST: `unix://${socketPath}` }, timeoutMs: 200 });
    assert.equal(r.available, false);
    assert.equal(r.reason, `no answer within 200 ms from unix://${socketPath}`);
    assert.ok(r.elapsedMs >= 150 && r.elapsedMs < 200 + SLACK_MS, `took ${r.elapsedMs} ms`);
  });

  it('does not probe schemes it cannot speak, and says so', async () => {
    const r = await probeDockerEngine({ env: { DOCKER_HOST: 'ssh://me@build-host' } });
    assert.equal(r.available, false);
    assert.equal(r.reason, 'DOCKER_HOST=ssh://me@build-host: only unix:// and tcp:// are probed');
  });

  it('reports missing TLS client certificates for tcp:// with DOCKER_TLS_VERIFY', async () => {
    const r = await probeDockerEngine({ env: { DOCKER_HOST: 'tcp://127.0.0.1:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: path.join(dir, 'no-certs') } });
    assert.equal(r.available, false);
    assert.equal(r.endpoint, 'tcp://127.0.0.1:2376 (TLS)');
    assert.match(r.reason ?? '', /ENOENT.*ca\.pem/);
  });

  it('answers quickly on this machine, and "no engine" where there is neither DOCKER_HOST nor a socket', async () => {
    const r = await probeDockerEngine();
    assert.ok(r.elapsedMs < DEFAULT_DOCKER_PROBE_TIMEOUT_MS + SLACK_MS, `took ${r.elapsedMs} ms`);
    if (!process.env.DOCKER_HOST?.trim() && !existsSync(DEFAULT_DOCKER_SOCKET)) {
      assert.equal(r.available, false);
      assert.equal(r.reason, `no socket at ${DEFAULT_DOCKER_SOCKET}`);
    }
  });
});
