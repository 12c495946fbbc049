/**
 * The HTTP side of `mfsim ui`: the page (plain files from tools/cli/page, no build step), a small
 * JSON API and live updates as Server-Sent Events.
 *
 *   GET /api/info                      what the server reads (source, trace links, fault count)
 *   GET /api/incidents?device=&pfn=&pid=&status=&run=&offset=&limit=
 *                                      one page of incidents, newest first, filtered on the server
 *   GET /api/incidents/ID              one incident: tree with times, signals, owners, shutdowns, dm path
 *   GET /api/faults                    the chaos faults of --history (absolute times)
 *   GET /api/events                    SSE: `version` whenever the list changed
 *
 * Bad input is a one-line JSON answer `{"error": "..."}`: 400 for a malformed filter or id, 404
 * for an unknown incident or path, 405 for a method other than GET, 503 when the database fails.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';

import { isIncidentId, parseListQuery, type FaultSpan } from './ui-model';
import type { UiSource } from './ui-source';

export const PAGE_DIR = path.resolve(__dirname, '..', '..', 'page');

const PAGE_FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

export interface UiServerOptions {
  readonly source: UiSource;
  readonly faults: readonly FaultSpan[];
  /** Where the faults came from (the --history file), for the page. */
  readonly historyFile: string | null;
  readonly host: string;
  readonly port: number;
}

export interface UiServer {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** The answer to one API request, without the socket: what the unit tests check. */
export interface ApiAnswer {
  readonly status: number;
  readonly body: unknown;
}

function oneLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n')[0] ?? 'error').slice(0, 300);
}

/** Answers GET /api/… (everything but the event stream). */
export async function answerApi(pathname: string, search: URLSearchParams, opts: Pick<UiServerOptions, 'source' | 'faults' | 'historyFile'>): Promise<ApiAnswer> {
  const { source } = opts;
  try {
    if (pathname === '/api/info') {
      return { status: 200, body: { source: source.kind, timing: source.kind === 'embedded' ? 'order' : 'recorded', faults: opts.faults.length, history: opts.historyFile, version: source.version() } };
    }
    if (pathname === '/api/faults') return { status: 200, body: { faults: opts.faults } };
    if (pathname === '/api/incidents') {
      const q = parseListQuery(search);
      if ('problem' in q) return { status: 400, body: { error: q.problem } };
      return { status: 200, body: await source.list(q) };
    }
    if (pathname.startsWith('/api/incidents/')) {
      const id = decodeURIComponent(pathname.slice('/api/incidents/'.length));
      if (!isIncidentId(id)) return { status: 400, body: { error: `${JSON.stringify(id.length > 60 ? `${id.slice(0, 60)}…` : id)} is not an incident id (a uuid)` } };
      const detail = await source.detail(id.toLowerCase());
      if (!detail) return { status: 404, body: { error: `no incident ${id.toLowerCase()}` } };
      const from = detail.incident.startedMs;
      const to = detail.incident.finishedMs ?? Number.POSITIVE_INFINITY;
      const faults = opts.faults.filter((f) => f.startMs <= to && (f.endMs ?? Number.POSITIVE_INFINITY) >= from);
      return { status: 200, body: { ...detail, faults } };
    }
    return { status: 404, body: { error: `no such API path ${pathname}` } };
  } catch (err) {
    return { status: 503, body: { error: `the incident store failed: ${oneLine(err)}` } };
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export async function startUiServer(opts: UiServerOptions): Promise<UiServer> {
  const streams = new Set<ServerResponse>();
  const unsubscribe = opts.source.onChange(() => {
    const data = `event: version\ndata: ${JSON.stringify({ version: opts.source.version() })}\n\n`;
    for (const res of streams) res.write(data);
  });
  const heartbeat = setInterval(() => {
    for (const res of streams) res.write(': keep-alive\n\n');
  }, 15_000);
  heartbeat.unref();

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      send(res, 400, { error: 'malformed request URL' });
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, { error: `method ${req.method ?? '?'} not allowed (GET only)` });
      return;
    }
    const page = PAGE_FILES[url.pathname];
    if (page) {
      const body = readFileSync(path.join(PAGE_DIR, page.file));
      res.writeHead(200, { 'content-type': page.type, 'cache-control': 'no-cache', 'content-length': body.length });
      res.end(req.method === 'HEAD' ? undefined : body);
      return;
    }
    if (url.pathname === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/api/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      res.write(`retry: 1000\nevent: version\ndata: ${JSON.stringify({ version: opts.source.version() })}\n\n`);
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    if (url.pathname.startsWith('/api/')) {
      const a = await answerApi(url.pathname, url.searchParams, opts);
      send(res, a.status, a.body);
      return;
    }
    send(res, 404, { error: `no such page ${url.pathname}` });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error: oneLine(err) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/`,
    port,
    close: async () => {
      unsubscribe();
      clearInterval(heartbeat);
      for (const res of streams) res.end();
      streams.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
