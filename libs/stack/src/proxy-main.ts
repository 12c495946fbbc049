/**
 * The stack's TCP proxy as its own process (`mfsim stack up --proxies` starts it):
 *
 *   node libs/stack/dist/proxy-main.js --control-port 7890 \
 *        --proxy 'xfs-fs->postgres=7801=127.0.0.1:5432' [--proxy NAME=LISTEN_PORT=HOST:PORT ...]
 *
 * Every proxy and the control API listen on 127.0.0.1. MFSIM_ADMIN_TOKEN, when set, is required
 * (as `Authorization: Bearer …`) by every POST and DELETE of the control API. Prints one
 * `proxy.ready …` line once everything listens; a bad argument or a port in use is one line and
 * exit 2; SIGTERM/SIGINT close everything and exit 0.
 */
import { ProxyError, ProxyServer, type ProxySpec } from './tcp-proxy';

const USAGE = 'usage: proxy-main.js --control-port PORT [--proxy NAME=LISTEN_PORT=HOST:PORT ...]';

function port(text: string, what: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < 0 || n > 65535) throw new ProxyError(`${what}: "${text}" is not a TCP port`);
  return n;
}

/** Parses the command line; throws ProxyError naming the bad argument. */
export function parseProxyArgs(argv: readonly string[]): { controlPort: number; proxies: ProxySpec[] } {
  let controlPort: number | undefined;
  const proxies: ProxySpec[] = [];
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] as string;
    const value = argv[i + 1];
    if (arg === '--control-port' && value !== undefined) {
      controlPort = port(value, '--control-port');
      i += 1;
    } else if (arg === '--proxy' && value !== undefined) {
      const m = /^(.+)=(\d+)=([^=:\s]+):(\d+)$/.exec(value);
      if (!m) throw new ProxyError(`--proxy "${value}": expected NAME=LISTEN_PORT=HOST:PORT (e.g. 'xfs-fs->postgres=7801=127.0.0.1:5432')`);
      proxies.push({ name: m[1] as string, listenPort: port(m[2] as string, `--proxy ${m[1]}`), upstreamHost: m[3] as string, upstreamPort: port(m[4] as string, `--proxy ${m[1]}`) });
      i += 1;
    } else {
      throw new ProxyError(`unexpected argument "${arg}"; ${USAGE}`);
    }
  }
  if (controlPort === undefined) throw new ProxyError(`--control-port is missing; ${USAGE}`);
  const names = new Set<string>();
  for (const p of proxies) {
    if (names.has(p.name)) throw new ProxyError(`--proxy ${p.name} is given twice`);
    names.add(p.name);
  }
  return { controlPort, proxies };
}

async function main(): Promise<void> {
  const token = process.env['MFSIM_ADMIN_TOKEN']?.trim() || undefined;
  const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);
  let server: ProxyServer | undefined;
  try {
    const args = parseProxyArgs(process.argv.slice(2));
    server = new ProxyServer({ ...(token ? { adminToken: token } : {}), log });
    for (const p of args.proxies) await server.add(p);
    const control = await server.listenControl(args.controlPort);
    log(`proxy.ready control=127.0.0.1:${control} token=${token ? 'required' : 'none'} proxies=${args.proxies.map((p) => `${p.name}@${p.listenPort}->${p.upstreamHost}:${p.upstreamPort}`).join(',')}`);
  } catch (err) {
    process.stderr.write(`mfsim proxy: ${err instanceof Error ? err.message : String(err)}\n`);
    await server?.close().catch(() => undefined);
    process.exit(2);
  }
  const stop = () => {
    log('proxy.stopping');
    void server?.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (require.main === module) void main();
