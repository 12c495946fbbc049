/**
 * The `mfsim` command.
 */
import { runScenarioCommand } from './scenario/scenario-command';

const USAGE = `mfsim — how persistent-memory failures travel through a Linux fs-DAX storage stack

usage:
  mfsim scenario run [--json] [--verbose] [--mode embedded|distributed] FILE|DIR...
  mfsim scenario check FILE|DIR...
  mfsim stack up|down|status

Scenario files: docs/scenario-format.md. Examples: scenarios/ and ../shared/spec/scenarios/.`;

export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case 'scenario':
      return runScenarioCommand(rest);
    case 'stack': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const stack = require('./stack') as { runStackCommand(a: string[]): Promise<number> };
      return stack.runStackCommand(rest);
    }
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`mfsim: unknown command ${command}\n${USAGE}\n`);
      return 2;
  }
}
