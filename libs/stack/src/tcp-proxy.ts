/**
 * The stack's own TCP proxy (Toxiproxy-like) for network faults on the edges between a service and
 * Kafka, PostgreSQL or Redis. Each named proxy listens on loopback and forwards to an upstream;
 * toxics change what goes through it:
 *
 *   latency    every chunk waits latencyMs ± jitterMs (order kept) in one direction or both
 *   blackhole  connections stay open, the bytes go nowhere (in one direction or both)
 *   reset      existing connections and every new one are reset (RST, `socket.resetAndDestroy()`)
 *
 * Counters (connections, bytes, chunks delayed and the delay actually applied, bytes dropped,
 * connections reset) let a fault show that it took effect. `ProxyServer` adds a small HTTP control
 * API on loopback (see `handleControl`); `proxy-main.ts` runs it as its own process.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';

export type ToxicDirection = 'upstream' | 'downstream' | 'both';

export type Toxic =
  | { readonly name: string; readonly type: 'latency'; readonly latencyMs: number; readonly jitterMs: number; readonly direction: ToxicDirection }
  | { readonly name: string; readonly type: 'blackhole'; readonly direction: ToxicDirection }
  | { readonly name: string; readonly type: 'reset' };

export interface ProxyCounters {
  /** Connections accepted since the proxy started. */
  connections: number;
  /** Connections open now. */
  active: number;
  /** Bytes client → upstream / upstream → client that were forwarded. */
  bytesUp: number;
  bytesDown: number;
  /** Chunks a latency toxic held back, the sum and the largest delay actually applied (ms). */
  delayedChunks: number;
  appliedDelayMsTotal: number;
  appliedDelayMsMax: number;
  /** Bytes a blackhole swallowed. */
  blackholedBytes: number;
  /** Connections reset by a reset toxic (existing and new). */
  resets: number;
  /** Upstream connections that failed (refused, reset by the upstream). */
  upstreamErrors: number;
}

export interface ProxySpec {
  readonly name: string;
  /** Port on 127.0.0.1 (0: any free port). */
  readonly listenPort: number;
  readonly upstreamHost: string;
  readonly upstreamPort: number;
}

/** A request the control API refuses: the message is one line for the caller. */
export class ProxyError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'ProxyError';
  }
}

const NAME = /^[A-Za-z0-9._:>-]{1,100}$/;

function zeroCounters(): ProxyCounters {
  return { connections: 0, active: 0, bytesUp: 0, bytesDown: 0, delayedChunks: 0, appliedDelayMsTotal: 0, appliedDelayMsMax: 0, blackholedBytes: 0, resets: 0, upstreamErrors: 0 };
}

interface Link {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** When the last delayed chunk of each direction is released (keeps order under jitter). */
  releaseUp: number;
  releaseDown: number;
  /** Delayed chunks per direction, in order, each with its release time; one timer drains each queue. */
  readonly queued: { upstream: { at: number; send: () => void }[]; downstream: { at: number; send: () => void }[] };
  readonly timers: Set<NodeJS.Timeout>;
}

/** Checks a toxic from the control API (or a test), naming the bad field. */
export function parseToxic(raw: unknown): Toxic {
  if (typeof raw !== 'object' || raw === null) throw new ProxyError('toxic: expected a JSON object {"type": "latency"|"blackhole"|"reset", …}');
  const r = raw as Record<string, unknown>;
  const type = r['type'];
  const name = r['name'] ?? type;
  if (typeof name !== 'string' || !NAME.test(name)) throw new ProxyError('toxic.name: expected 1-100 letters, digits or . _ : > -');
  const direction = r['direction'] ?? 'both';
  if (direction !== 'upstream' && direction !== 'downstream' && direction !== 'both') throw new ProxyError('toxic.direction: expected "upstream", "downstream" or "both"');
  const ms = (field: string, dflt: number): number => {
    const v = r[field] ?? dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 600_000) throw new ProxyError(`toxic.${field}: expected an integer number of ms from 0 to 600000`);
    return v;
  };
  switch (type) {
    case 'latency':
      return { name, type, latencyMs: ms('latencyMs', 0), jitterMs: ms('jitterMs', 0), direction };
    case 'blackhole':
      return { name, type, direction };
    case 'reset':
      return { name, type };
    default:
      throw new ProxyError(`toxic.type: expected "latency", "blackhole" or "reset", got ${JSON.stringify(type)}`);
  }
}

/** One named proxy: a loopback listener forwarding each connection to the upstream. */
export class TcpProxy {
  readonly counters: ProxyCounters = zeroCounters();
  private readonly toxics = new Map<string, Toxic>();
  private readonly links = new Set<Link>();
  private readonly server: net.Server;
  private port = 0;

  constructor(
    readonly spec: ProxySpec,
    private readonly random: () => number = Math.random,
  ) {
    if (!NAME.test(spec.name)) throw new ProxyError(`proxy name "${spec.name.slice(0, 100)}": expected 1-100 letters, digits or . _ : > -`);
    this.server = net.createServer((client) => this.accept(client));
  }

  /** The port it listens on (after listen()). */
  get listenPort(): number {
    return this.port;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new ProxyError(`proxy ${this.spec.name}: 127.0.0.1:${this.spec.listenPort} is already in use`, 409) : err);
      this.server.once('error', onError);
      this.server.listen(this.spec.listenPort, '127.0.0.1', () => {
        this.server.removeListener('error', onError);
        this.port = (this.server.address() as net.AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  async close(): Promise<void> {
    for (const link of this.links) this.destroy(link);
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  listToxics(): Toxic[] {
    return [...this.toxics.values()];
  }

  /** Adds (or replaces, by name) a toxic. A reset toxic resets every open connection at once. */
  addToxic(toxic: Toxic): void {
    this.toxics.set(toxic.name, toxic);
    if (toxic.type === 'reset') for (const link of [...this.links]) this.reset(link);
  }

  /** Removes a toxic; true when there was one of that name. */
  removeToxic(name: string): boolean {
    return this.toxics.delete(name);
  }

  clearToxics(): void {
    this.toxics.clear();
  }

  describe(): { name: string; listen: string; upstream: string; toxics: Toxic[]; counters: ProxyCounters } {
    return {
      name: this.spec.name,
      listen: `127.0.0.1:${this.port}`,
      upstream: `${this.spec.upstreamHost}:${this.spec.upstreamPort}`,
      toxics: this.listToxics(),
      counters: { ...this.counters },
    };
  }

  private has(type: Toxic['type']): boolean {
    for (const t of this.toxics.values()) if (t.type === type) return true;
    return false;
  }

  private accept(client: net.Socket): void {
    this.counters.connections += 1;
    client.setNoDelay(true);
    if (this.has('reset')) {
      this.counters.resets += 1;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: this.spec.upstreamHost, port: this.spec.upstreamPort });
    upstream.setNoDelay(true);
    const link: Link = { client, upstream, releaseUp: 0, releaseDown: 0, queued: { upstream: [], downstream: [] }, timers: new Set() };
    this.links.add(link);
    this.counters.active += 1;
    client.on('data', (chunk: Buffer) => this.forward(link, 'upstream', chunk));
    upstream.on('data', (chunk: Buffer) => this.forward(link, 'downstream', chunk));
    // A client that hangs up closes the upstream and the other way round (after what is queued).
    client.on('end', () => this.afterQueued(link, 'upstream', () => upstream.end()));
    upstream.on('end', () => this.afterQueued(link, 'downstream', () => client.end()));
    client.on('error', () => this.destroy(link));
    upstream.on('error', () => {
      this.counters.upstreamErrors += 1;
      // The client sees what the upstream did: a reset when it was reset or refused.
      this.unlink(link);
      client.resetAndDestroy();
    });
    client.on('close', () => this.destroy(link));
    upstream.on('close', () => {
      if (this.links.has(link)) this.afterQueued(link, 'downstream', () => this.destroy(link));
    });
  }

  private forward(link: Link, dir: 'upstream' | 'downstream', chunk: Buffer): void {
    const to = dir === 'upstream' ? link.upstream : link.client;
    let delay = 0;
    for (const t of this.toxics.values()) {
      if (t.type === 'reset' || (t.direction !== 'both' && t.direction !== dir)) continue;
      if (t.type === 'blackhole') {
        this.counters.blackholedBytes += chunk.length;
        return;
      }
      const jitter = t.jitterMs === 0 ? 0 : Math.round((this.random() * 2 - 1) * t.jitterMs);
      delay += Math.max(0, t.latencyMs + jitter);
    }
    const now = Date.now();
    const last = dir === 'upstream' ? link.releaseUp : link.releaseDown;
    // Order is kept: a chunk never overtakes the one before it (jitter only stretches the gaps).
    const releaseAt = delay > 0 || last > now ? Math.max(now + delay, last) : now;
    const send = () => {
      if (dir === 'upstream') this.counters.bytesUp += chunk.length;
      else this.counters.bytesDown += chunk.length;
      if (!to.destroyed) to.write(chunk);
    };
    if (releaseAt <= now) {
      send();
      return;
    }
    if (dir === 'upstream') link.releaseUp = releaseAt;
    else link.releaseDown = releaseAt;
    const applied = releaseAt - now;
    this.counters.delayedChunks += 1;
    this.counters.appliedDelayMsTotal += applied;
    this.counters.appliedDelayMsMax = Math.max(this.counters.appliedDelayMsMax, applied);
    const queue = link.queued[dir];
    queue.push({ at: releaseAt, send });
    if (queue.length === 1) this.drain(link, dir);
  }

  /** Sends the queued chunks of `dir` whose time has come, in order, then waits for the next. */
  private drain(link: Link, dir: 'upstream' | 'downstream'): void {
    const queue = link.queued[dir];
    while (queue.length > 0 && (queue[0] as { at: number }).at <= Date.now()) (queue.shift() as { send: () => void }).send();
    if (queue.length === 0 || !this.links.has(link)) return;
    const timer = setTimeout(() => {
      link.timers.delete(timer);
      this.drain(link, dir);
    }, (queue[0] as { at: number }).at - Date.now());
    link.timers.add(timer);
  }

  /** Runs `fn` once the chunks queued in `dir` have been sent. */
  private afterQueued(link: Link, dir: 'upstream' | 'downstream', fn: () => void): void {
    const wait = (dir === 'upstream' ? link.releaseUp : link.releaseDown) - Date.now();
    if (wait <= 0) fn();
    else {
      const timer = setTimeout(() => {
        link.timers.delete(timer);
        fn();
      }, wait + 1);
      link.timers.add(timer);
    }
  }

  private reset(link: Link): void {
    this.counters.resets += 1;
    this.unlink(link);
    link.client.resetAndDestroy();
    link.upstream.resetAndDestroy();
  }

  private destroy(link: Link): void {
    if (!this.unlink(link)) return;
    link.client.destroy();
    link.upstream.destroy();
  }

  private unlink(link: Link): boolean {
    if (!this.links.delete(link)) return false;
    this.counters.active -= 1;
    for (const t of link.timers) clearTimeout(t);
    link.timers.clear();
    return true;
  }
}

/** Whether `header` is `Bearer <token>` (compared in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  if (!m) return false;
  const a = createHash('sha256').update(m[1] as string).digest();
  const b = createHash('sha256').update(token).digest();
  return timingSafeEqual(a, b);
}

/**
 * Named proxies and their HTTP control API on 127.0.0.1:
 *   GET    /proxies                          every proxy: listen, upstream, toxics, counters
 *   GET    /proxies/NAME                     one proxy
 *   POST   /proxies  {name, listenPort, upstreamHost, upstreamPort}   add one (201)
 *   DELETE /proxies/NAME                     remove one
 *   POST   /proxies/NAME/toxics  {name?, type, latencyMs?, jitterMs?, direction?}   add a toxic (201)
 *   DELETE /proxies/NAME/toxics/TOXIC        remove a toxic (204; 404 when there is none)
 *   DELETE /proxies/NAME/toxics              remove all of its toxics
 *   POST   /reset                            remove every toxic of every proxy
 * With an admin token, every POST and DELETE needs `Authorization: Bearer <token>` (401 otherwise).
 * Errors are `{"message": "…"}` with a 4xx status.
 */
export class ProxyServer {
  readonly proxies = new Map<string, TcpProxy>();
  private control: http.Server | undefined;

  constructor(private readonly options: { adminToken?: string; log?: (line: string) => void } = {}) {}

  async add(spec: ProxySpec): Promise<TcpProxy> {
    if (this.proxies.has(spec.name)) throw new ProxyError(`proxy ${spec.name} exists already`, 409);
    const proxy = new TcpProxy(spec);
    await proxy.listen();
    this.proxies.set(spec.name, proxy);
    return proxy;
  }

  get(name: string): TcpProxy {
    const proxy = this.proxies.get(name);
    if (!proxy) throw new ProxyError(`no proxy named ${name} (have: ${[...this.proxies.keys()].join(', ') || 'none'})`, 404);
    return proxy;
  }

  /** Starts the control API; returns its port. */
  listenControl(port: number): Promise<number> {
    const server = http.createServer((req, res) => void this.serve(req, res));
    this.control = server;
    return new Promise((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) =>
        reject(err.code === 'EADDRINUSE' ? new ProxyError(`control port 127.0.0.1:${port} is already in use`, 409) : err),
      );
      server.listen(port, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
  }

  async close(): Promise<void> {
    const control = this.control;
    if (control) {
      control.closeAllConnections();
      await new Promise<void>((resolve) => control.close(() => resolve()));
    }
    await Promise.all([...this.proxies.values()].map((p) => p.close()));
    this.proxies.clear();
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { 'content-type': 'application/json' });
      res.end(body === undefined ? undefined : `${JSON.stringify(body)}\n`);
    };
    try {
      const method = req.method ?? 'GET';
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      if (method !== 'GET' && this.options.adminToken !== undefined && !bearerMatches(req.headers.authorization, this.options.adminToken)) {
        this.options.log?.(`proxy.admin_refused method=${method} path=${url.pathname} reason=${req.headers.authorization ? 'wrong token' : 'missing token'}`);
        reply(401, { message: `${method} ${url.pathname} needs "Authorization: Bearer <admin token>" (MFSIM_ADMIN_TOKEN)` });
        return;
      }
      const body = method === 'POST' ? await readJson(req) : undefined;
      const result = await this.handleControl(method, url.pathname.split('/').filter(Boolean).map(decodeURIComponent), body);
      reply(result.status, result.body);
    } catch (err) {
      if (err instanceof ProxyError) reply(err.status, { message: err.message });
      else reply(500, { message: err instanceof Error ? err.message : String(err) });
    }
  }

  private async handleControl(method: string, parts: string[], body: unknown): Promise<{ status: number; body?: unknown }> {
    const [top, name, sub, toxic] = parts;
    if (top === 'reset' && parts.length === 1 && method === 'POST') {
      for (const p of this.proxies.values()) p.clearToxics();
      this.options.log?.('proxy.reset all toxics removed');
      return { status: 204 };
    }
    if (top !== 'proxies') throw new ProxyError(`no such resource /${parts.join('/')}`, 404);
    if (name === undefined) {
      if (method === 'GET') return { status: 200, body: Object.fromEntries([...this.proxies].map(([n, p]) => [n, p.describe()])) };
      if (method === 'POST') {
        const b = (body ?? {}) as Record<string, unknown>;
        const port = (v: unknown, field: string) => {
          if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw new ProxyError(`${field}: expected a TCP port`);
          return v;
        };
        if (typeof b['name'] !== 'string') throw new ProxyError('name: expected a string');
        if (typeof b['upstreamHost'] !== 'string') throw new ProxyError('upstreamHost: expected a host name');
        const p = await this.add({ name: b['name'], listenPort: port(b['listenPort'] ?? 0, 'listenPort'), upstreamHost: b['upstreamHost'], upstreamPort: port(b['upstreamPort'], 'upstreamPort') });
        return { status: 201, body: p.describe() };
      }
    }
    if (name !== undefined && sub === undefined) {
      const proxy = this.get(name);
      if (method === 'GET') return { status: 200, body: proxy.describe() };
      if (method === 'DELETE') {
        await proxy.close();
        this.proxies.delete(name);
        return { status: 204 };
      }
    }
    if (name !== undefined && sub === 'toxics') {
      const proxy = this.get(name);
      if (toxic === undefined && method === 'GET') return { status: 200, body: proxy.listToxics() };
      if (toxic === undefined && method === 'POST') {
        const t = parseToxic(body);
        proxy.addToxic(t);
        this.options.log?.(`proxy.toxic_added proxy=${name} ${JSON.stringify(t)}`);
        return { status: 201, body: t };
      }
      if (toxic === undefined && method === 'DELETE') {
        proxy.clearToxics();
        this.options.log?.(`proxy.toxics_removed proxy=${name}`);
        return { status: 204 };
      }
      if (toxic !== undefined && method === 'DELETE') {
        if (!proxy.removeToxic(toxic)) throw new ProxyError(`proxy ${name} has no toxic ${toxic}`, 404);
        this.options.log?.(`proxy.toxic_removed proxy=${name} toxic=${toxic}`);
        return { status: 204 };
      }
    }
    throw new ProxyError(`${method} /${parts.join('/')} is not part of the control API`, 405);
  }
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      text += c;
      if (text.length > 1_000_000) reject(new ProxyError('body too large', 413));
    });
    req.on('end', () => {
      if (text.trim() === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new ProxyError('body: not JSON'));
      }
    });
    req.on('error', reject);
  });
}

/** A client of a proxy process's control API (the network faults and `mfsim stack` use it). */
export class ProxyControl {
  constructor(
    readonly baseUrl: string,
    private readonly adminToken?: string,
  ) {}

  async list(): Promise<Record<string, ReturnType<TcpProxy['describe']>>> {
    return (await this.request('GET', '/proxies')) as Record<string, ReturnType<TcpProxy['describe']>>;
  }

  async proxy(name: string): Promise<ReturnType<TcpProxy['describe']>> {
    return (await this.request('GET', `/proxies/${encodeURIComponent(name)}`)) as ReturnType<TcpProxy['describe']>;
  }

  async addToxic(proxy: string, toxic: Record<string, unknown>): Promise<void> {
    await this.request('POST', `/proxies/${encodeURIComponent(proxy)}/toxics`, toxic);
  }

  /** Removes a toxic; a toxic that is already gone is fine (idempotent). */
  async removeToxic(proxy: string, toxic: string): Promise<void> {
    await this.request('DELETE', `/proxies/${encodeURIComponent(proxy)}/toxics/${encodeURIComponent(toxic)}`, undefined, [404]);
  }

  private async request(method: string, path: string, body?: unknown, okStatuses: number[] = []): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers: {
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(this.adminToken ? { authorization: `Bearer ${this.adminToken}` } : {}),
        },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      const cause = err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err);
      throw new ProxyError(`the proxy control API at ${this.baseUrl} does not answer (${cause}): was the stack started with --proxies?`, 503);
    }
    const text = await res.text();
    if (!res.ok && !okStatuses.includes(res.status)) {
      let message = text.slice(0, 200);
      try {
        message = (JSON.parse(text) as { message: string }).message ?? message;
      } catch {
        // not JSON: the text itself
      }
      throw new ProxyError(`proxy ${method} ${path}: ${res.status} ${message}`, res.status);
    }
    return text.trim() ? JSON.parse(text) : undefined;
  }
}
