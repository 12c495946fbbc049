/**
 * Is there a Docker engine that answers? One real `GET /_ping` with a short timeout.
 *
 * The test runner asks this before it would start Kafka/PostgreSQL/Redis as containers
 * (test-servers.ts, test-containers.ts). A `docker` client on the PATH proves nothing: only an
 * engine that answers the ping counts.
 *
 * Where it looks (the same places testcontainers looks first):
 *   DOCKER_HOST=unix:///path/docker.sock   that socket
 *   DOCKER_HOST=tcp://host:port            HTTP, or HTTPS with the client certificates in
 *                                          DOCKER_CERT_PATH (default ~/.docker) when
 *                                          DOCKER_TLS_VERIFY is set to anything but "" or "0"
 *   DOCKER_HOST unset                      /var/run/docker.sock
 * Other schemes (ssh://, npipe://) are not probed and count as "no engine". A rootless or
 * Docker Desktop socket elsewhere is used only when DOCKER_HOST names it.
 */
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { homedir } from 'node:os';
import * as path from 'node:path';

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
/** How long the probe waits for the engine, all in (connect + answer). */
export const DEFAULT_DOCKER_PROBE_TIMEOUT_MS = 1_500;

export interface DockerEngineProbe {
  /** True only when the engine answered `GET /_ping` with 200 "OK". */
  available: boolean;
  /** Where it looked: "unix:///var/run/docker.sock", "tcp://10.0.0.5:2376 (TLS)", ... */
  endpoint: string;
  /** Why it is not available ("no socket at /var/run/docker.sock", "timed out after 1500 ms", ...). */
  reason?: string;
  /** What answered, from the ping's headers ("API 1.47, linux"), when available. */
  detail?: string;
  /** How long the probe took. */
  elapsedMs: number;
}

export interface DockerProbeOptions {
  /** Default: process.env (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Default DEFAULT_DOCKER_PROBE_TIMEOUT_MS. */
  timeoutMs?: number;
  /** The socket to try when DOCKER_HOST is unset. Default /var/run/docker.sock. */
  defaultSocket?: string;
}

/** Where a DOCKER_HOST value points, as node:http request options (or why it cannot be probed). */
type Target =
  | { kind: 'unix'; endpoint: string; socketPath: string }
  | { kind: 'tcp'; endpoint: string; host: string; port: number; tls: boolean; certPath?: string }
  | { kind: 'unsupported'; endpoint: string; reason: string };

function targetOf(env: Readonly<Record<string, string | undefined>>, defaultSocket: string): Target {
  const raw = env.DOCKER_HOST?.trim();
  if (!raw) return { kind: 'unix', endpoint: `unix://${defaultSocket}`, socketPath: defaultSocket };
  if (raw.startsWith('unix://')) return { kind: 'unix', endpoint: raw, socketPath: raw.slice('unix://'.length) };
  if (raw.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(`http://${raw.slice('tcp://'.length)}`);
    } catch {
      return { kind: 'unsupported', endpoint: raw, reason: `DOCKER_HOST=${raw} is not a valid tcp://host:port` };
    }
    const tlsVerify = env.DOCKER_TLS_VERIFY?.trim();
    const tls = tlsVerify !== undefined && tlsVerify !== '' && tlsVerify !== '0';
    return {
      kind: 'tcp',
      endpoint: tls ? `${raw} (TLS)` : raw,
      host: url.hostname.replace(/^\[|\]$/g, ''),
      port: Number(url.port) || (tls ? 2376 : 2375),
      tls,
      certPath: tls ? env.DOCKER_CERT_PATH?.trim() || path.join(homedir(), '.docker') : undefined,
    };
  }
  return { kind: 'unsupported', endpoint: raw, reason: `DOCKER_HOST=${raw}: only unix:// and tcp:// are probed` };
}

/** A short, person-readable cause for a failed connection. */
function describeError(err: NodeJS.ErrnoException, target: Target): string {
  const where = target.kind === 'unix' ? target.socketPath : target.endpoint;
  switch (err.code) {
    case 'ENOENT':
      return `no socket at ${where}`;
    case 'ECONNREFUSED':
      return `nothing accepts connections at ${where}`;
    case 'EACCES':
    case 'EPERM':
      return `no permission to use ${where}`;
    default:
      return `${where}: ${err.message}`;
  }
}

/**
 * Pings the Docker engine. Never throws and never takes (much) longer than `timeoutMs`: the
 * answer is "available" only when the engine itself answered.
 */
export function probeDockerEngine(opts: DockerProbeOptions = {}): Promise<DockerEngineProbe> {
  const env = opts.env ?? process.env;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_DOCKER_PROBE_TIMEOUT_MS;
  const target = targetOf(env, opts.defaultSocket ?? DEFAULT_DOCKER_SOCKET);
  const startedAt = Date.now();
  const result = (r: Omit<DockerEngineProbe, 'endpoint' | 'elapsedMs'>): DockerEngineProbe => ({
    ...r,
    endpoint: target.endpoint,
    elapsedMs: Date.now() - startedAt,
  });
  if (target.kind === 'unsupported') return Promise.resolve(result({ available: false, reason: target.reason }));

  return new Promise<DockerEngineProbe>((resolve) => {
    let settled = false;
    const finish = (r: Omit<DockerEngineProbe, 'endpoint' | 'elapsedMs'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(result(r));
    };

    const common = { method: 'GET', path: '/_ping', headers: { Accept: 'text/plain' }, agent: false } as const;
    let req: http.ClientRequest;
    try {
      if (target.kind === 'unix') {
        req = http.request({ ...common, socketPath: target.socketPath });
      } else if (!target.tls) {
        req = http.request({ ...common, host: target.host, port: target.port });
      } else {
        const read = (name: string) => readFileSync(path.join(target.certPath!, name));
        req = https.request({ ...common, host: target.host, port: target.port, ca: read('ca.pem'), cert: read('cert.pem'), key: read('key.pem') });
      }
    } catch (err) {
      // Missing client certificates, a bad socket path, ...
      resolve(result({ available: false, reason: (err as Error).message }));
      return;
    }

    const timer = setTimeout(() => finish({ available: false, reason: `no answer within ${timeoutMs} ms from ${target.endpoint}` }), timeoutMs);
    timer.unref();
    req.on('error', (err) => finish({ available: false, reason: describeError(err as NodeJS.ErrnoException, target) }));
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 256) body += chunk;
      });
      res.on('error', (err) => finish({ available: false, reason: describeError(err as NodeJS.ErrnoException, target) }));
      res.on('end', () => {
        if (res.statusCode === 200 && body.trim() === 'OK') {
          const api = res.headers['api-version'];
          const os = res.headers['ostype'];
          const detail = [api ? `API ${String(api)}` : undefined, os ? String(os) : undefined].filter(Boolean).join(', ');
          finish({ available: true, ...(detail ? { detail } : {}) });
        } else {
          finish({ available: false, reason: `${target.endpoint} answered /_ping with ${res.statusCode ?? '?'} ${JSON.stringify(body.trim().slice(0, 80))}, not 200 "OK"` });
        }
      });
    });
    req.end();
  });
}
