import { BadRequestException, Body, Controller, Get, HttpCode, Injectable, Logger, Post } from '@nestjs/common';

/** The switchable application faults of a service (like the OpenTelemetry Demo's feature flags). */
export interface ChaosFlagValues {
  /** Each hop step sleeps this long before it runs (a slow handler). 0: off. */
  slowHandlerMs: number;
  /** The consumer sleeps this long before each message it takes (lag builds). 0: off. */
  consumerDelayMs: number;
}

export interface ChaosFlagCounters {
  /** Steps that slept because of slowHandlerMs, and messages because of consumerDelayMs. */
  stepsSlowed: number;
  messagesDelayed: number;
}

const MAX_MS = 600_000;

/**
 * The flags of this process, set over `POST /chaos/flags` (admin token when one is configured) and
 * read over `GET /chaos/flags`. The hop host asks `beforeMessage()` and `beforeStep()`.
 */
@Injectable()
export class ChaosFlags {
  private readonly logger = new Logger('chaos');
  private values: ChaosFlagValues = { slowHandlerMs: 0, consumerDelayMs: 0 };
  readonly counters: ChaosFlagCounters = { stepsSlowed: 0, messagesDelayed: 0 };

  get(): ChaosFlagValues & ChaosFlagCounters {
    return { ...this.values, ...this.counters };
  }

  /** Sets the flags named in `patch` (the others keep their value). Throws naming a bad field. */
  set(patch: unknown): ChaosFlagValues & ChaosFlagCounters {
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) throw new BadRequestException('body must be {"slowHandlerMs"?: ms, "consumerDelayMs"?: ms}');
    const next = { ...this.values };
    for (const [key, value] of Object.entries(patch as Record<string, unknown>)) {
      if (key !== 'slowHandlerMs' && key !== 'consumerDelayMs') throw new BadRequestException(`unknown flag "${key.slice(0, 60)}" (flags: slowHandlerMs, consumerDelayMs)`);
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_MS) throw new BadRequestException(`${key}: expected an integer number of ms from 0 to ${MAX_MS}`);
      next[key] = value;
    }
    this.values = next;
    this.logger.log(`chaos.flags slowHandlerMs=${next.slowHandlerMs} consumerDelayMs=${next.consumerDelayMs}`);
    return this.get();
  }

  async beforeMessage(): Promise<void> {
    const ms = this.values.consumerDelayMs;
    if (ms <= 0) return;
    this.counters.messagesDelayed += 1;
    await sleep(ms);
  }

  async beforeStep(): Promise<void> {
    const ms = this.values.slowHandlerMs;
    if (ms <= 0) return;
    this.counters.stepsSlowed += 1;
    await sleep(ms);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 *   GET  /chaos/flags   {"slowHandlerMs", "consumerDelayMs", "stepsSlowed", "messagesDelayed"}
 *   POST /chaos/flags   {"slowHandlerMs"?: ms, "consumerDelayMs"?: ms} → the flags now (200)
 */
@Controller('chaos/flags')
export class ChaosFlagsController {
  constructor(private readonly flags: ChaosFlags) {}

  @Get()
  get(): ChaosFlagValues & ChaosFlagCounters {
    return this.flags.get();
  }

  @Post()
  @HttpCode(200)
  set(@Body() body: unknown): ChaosFlagValues & ChaosFlagCounters {
    return this.flags.set(body);
  }
}
