/**
 * `mfsim stack up|down|status`: Kafka (a local broker JVM), PostgreSQL, a persistent Redis and the
 * five services (some with replicas) on this machine. State and logs live in .mfsim/stack/.
 */
import { KafkaBrokerError, ZipkinServerError } from '@mfsim/stack';

import { LoadStackOptions, loadStackConfig, StackError } from './config';
import { stackDown, stackUp } from './lifecycle';
import { stackStatus } from './status';

export { loadStackConfig, parseReplicas, SERVICES, StackError } from './config';
export type { StackConfig } from './config';

const USAGE = `usage: mfsim stack up [--no-services] [--no-traces] [--proxies] [--own-postgres] [--replicas SERVICE=N[,SERVICE=N...]] [--redis-url URL] [--timeout SECONDS]
       mfsim stack status
       mfsim stack down

  up      start Kafka (127.0.0.1:$MFSIM_KAFKA_PORT, default 19092), PostgreSQL if it is not running
          (and is installed), a redis-server of its own (127.0.0.1:$MFSIM_REDIS_PORT, default 16379,
          append-only file in .mfsim/stack/redis), the mfsim database, its migrations, the topics
          and the services; wait for every /health. Also a Zipkin server (127.0.0.1:$MFSIM_ZIPKIN_PORT,
          default 9411, in-memory) the services send their traces to: each incident's trace is at
          http://127.0.0.1:9411/zipkin/traces/<incident uuid without dashes>
            --no-traces                        start no Zipkin (the services do not trace)
            --replicas xfs-fs=2,mm-process=2   N processes of a service, one consumer group
            --redis-url URL                    use that Redis instead of starting one
            --own-postgres                     run a PostgreSQL of its own (127.0.0.1:$MFSIM_POSTGRES_PORT,
                                               default 15432, data .mfsim/stack/pg) that chaos plans may fault
            --proxies                          route each service's Kafka, PostgreSQL and Redis
                                               traffic through the stack's TCP proxy (edges
                                               <service>->kafka|postgres|redis, for network faults)
          every state-changing request to the services needs the admin token (MFSIM_ADMIN_TOKEN,
          else a random one, kept in .mfsim/stack/state.json mode 0600)
  status  one line per component and service process: pid, port, health (exit 1 if something
          expected is down)
  down    stop what up started (services, Kafka, its Redis; PostgreSQL only if up started it)

Environment: MFSIM_KAFKA_PORT, MFSIM_KAFKA_CONTROLLER_PORT (19093), MFSIM_KAFKA_HEAP_MB (384),
MFSIM_REDIS_PORT (16379), MFSIM_ZIPKIN_PORT (9411), MFSIM_HTTP_PORT_BASE (7100: service k replica i on base+k+10*(i-1)),
MFSIM_REPLICAS (as --replicas), DATABASE_URL, REDIS_URL (as --redis-url), MFSIM_TOPIC_PREFIX,
MFSIM_REDIS_PREFIX, MFSIM_ADMIN_TOKEN, MFSIM_PROXY_CONTROL_PORT (7890), MFSIM_PROXY_PORT_BASE (7800). Logs: .mfsim/stack/<name>.log, <service>-<i>.log for replicas`;

type UpArgs = { services: boolean; proxies?: boolean; load: LoadStackOptions };

/** Parses the options of `stack up`. Throws a StackError (exit 2) on a bad one. */
export function parseUp(args: string[]): UpArgs {
  const opts: UpArgs = { services: true, load: {} };
  const value = (i: number, name: string): string => {
    const v = args[i];
    if (v === undefined || v.startsWith('--')) throw new StackError(`${name} needs a value`, 2);
    return v;
  };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const next = () => inline ?? value(++i, flag);
    if (flag === '--no-services') opts.services = false;
    else if (flag === '--no-traces' && inline === undefined) opts.load.noTraces = true;
    else if (flag === '--proxies') opts.proxies = true;
    else if (flag === '--timeout') {
      const raw = next();
      const s = Number(raw);
      if (!Number.isFinite(s) || s <= 0) throw new StackError(`--timeout needs a number of seconds, got ${raw}`, 2);
      opts.load.timeoutMs = s * 1000;
    } else if (flag === '--replicas') opts.load.replicas = next();
    else if (flag === '--redis-url') opts.load.redisUrl = next();
    else if (flag === '--own-postgres') opts.load.ownPostgres = true;
    else throw new StackError(`unknown option for stack up: ${a}\n${USAGE}`, 2);
  }
  return opts;
}

/** Runs `mfsim stack <args>`; returns the exit code. Errors meant for a person are printed without a stack trace. */
export async function runStackCommand(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const t0 = Date.now();
  const say = (line: string) => process.stdout.write(`[stack +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
  try {
    switch (command) {
      case 'up': {
        const opts = parseUp(rest);
        return await stackUp(loadStackConfig(process.env, opts.load), { services: opts.services, ...(opts.proxies ? { proxies: true } : {}) }, say);
      }
      case 'down':
        return await stackDown(loadStackConfig(), say);
      case 'status':
        return await stackStatus(loadStackConfig(), (text) => process.stdout.write(`${text}\n`));
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(`${USAGE}\n`);
        return 0;
      default:
        process.stderr.write(`${command === undefined ? '' : `mfsim stack: unknown command ${command}\n`}${USAGE}\n`);
        return 2;
    }
  } catch (err) {
    if (err instanceof StackError) {
      process.stderr.write(`mfsim stack: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof KafkaBrokerError || err instanceof ZipkinServerError) {
      process.stderr.write(`mfsim stack: ${err.message}\n`);
      return 1;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`mfsim stack: ${message}${process.env['MFSIM_DEBUG'] ? `\n${(err as Error).stack}` : ' (MFSIM_DEBUG=1 shows the stack trace)'}\n`);
    return 1;
  }
}
