/**
 * `mfsim stack up|down|status`: Kafka (a local broker JVM), PostgreSQL, Redis and the five
 * services on this machine. State and logs live in .mfsim/stack/.
 */
import { KafkaBrokerError } from '@mfsim/testing';

import { loadStackConfig, StackError } from './config';
import { stackDown, stackUp } from './lifecycle';
import { stackStatus } from './status';

export { loadStackConfig, SERVICES, StackError } from './config';
export type { StackConfig } from './config';

const USAGE = `usage: mfsim stack up [--no-services] [--timeout SECONDS]
       mfsim stack status
       mfsim stack down

  up      start Kafka (127.0.0.1:$MFSIM_KAFKA_PORT, default 19092), PostgreSQL and Redis if they
          are not running (and are installed), the mfsim database, its migrations, the topics and
          the five services; wait for every /health
  status  one line per component: pid, port, health (exit 1 if something expected is down)
  down    stop what up started (services, then Kafka; PostgreSQL/Redis only if up started them)

Environment: MFSIM_KAFKA_PORT, MFSIM_KAFKA_CONTROLLER_PORT (19093), MFSIM_KAFKA_HEAP_MB (384),
DATABASE_URL, REDIS_URL, MFSIM_TOPIC_PREFIX, MFSIM_REDIS_PREFIX. Logs: .mfsim/stack/<name>.log`;

function parseUp(args: string[]): { services: boolean; timeoutMs?: number } {
  const opts: { services: boolean; timeoutMs?: number } = { services: true };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--no-services') opts.services = false;
    else if (a === '--timeout') {
      const s = Number(args[++i]);
      if (!Number.isFinite(s) || s <= 0) throw new StackError(`--timeout needs a number of seconds, got ${args[i] ?? 'nothing'}`, 2);
      opts.timeoutMs = s * 1000;
    } else throw new StackError(`unknown option for stack up: ${a}\n${USAGE}`, 2);
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
        return await stackUp(loadStackConfig(process.env, { timeoutMs: opts.timeoutMs }), opts, say);
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
    if (err instanceof KafkaBrokerError) {
      process.stderr.write(`mfsim stack: ${err.message}\n`);
      return 1;
    }
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`mfsim stack: ${message}${process.env['MFSIM_DEBUG'] ? `\n${(err as Error).stack}` : ' (MFSIM_DEBUG=1 shows the stack trace)'}\n`);
    return 1;
  }
}
