/**
 * The `mfsim` command.
 */
import { endQuietlyOnClosedPipe, HELP, helpFor, mfsimVersion } from './main-help';
import { runScenarioCommand } from './scenario/scenario-command';

export async function main(args: string[]): Promise<number> {
  endQuietlyOnClosedPipe();
  const help = helpFor(args);
  if (help !== undefined) {
    process.stdout.write(`${help}\n`);
    return 0;
  }
  const [command, ...rest] = args;
  switch (command) {
    case 'scenario':
      return runScenarioCommand(rest);
    case 'stack': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const stack = require('./stack') as { runStackCommand(a: string[]): Promise<number> };
      return stack.runStackCommand(rest);
    }
    case 'chaos': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const chaos = require('./chaos/chaos-command') as { runChaosCommand(a: string[]): Promise<number> };
      return chaos.runChaosCommand(rest);
    }
    case 'incident': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const incident = require('./incident/incident-command') as { runIncidentCommand(a: string[]): Promise<number> };
      return incident.runIncidentCommand(rest);
    }
    case 'ui': {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const ui = require('./ui/ui-command') as { runUiCommand(a: string[]): Promise<number> };
      return ui.runUiCommand(rest);
    }
    case '--version':
    case '-V':
    case 'version':
      process.stdout.write(`mfsim ${mfsimVersion()}\n`);
      return 0;
    case undefined:
      process.stderr.write(`${HELP['']}\n`);
      return 2;
    default:
      process.stderr.write(`mfsim: unknown command ${command}\n${HELP['']}\n`);
      return 2;
  }
}
