import { BadRequestException, Body, Controller, Delete, Get, HttpCode, NotFoundException, Param, Post, Query } from '@nestjs/common';

import { decodeJson, encodeJson } from '@mfsim/kernel-model';
import { UnknownRunError, type RmapRow } from '@mfsim/persistence';

import { HopHost } from './hop-host';

const RUN = /^[A-Za-z0-9_-]{1,64}$/;
const INCIDENT = /^[0-9a-f-]{36}$/;

function runId(run: string): string {
  if (!RUN.test(run)) throw new BadRequestException(`run id "${run.slice(0, 80)}" is not 1-64 letters, digits, "_" or "-"`);
  return run;
}

async function known<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UnknownRunError) throw new NotFoundException(err.message);
    throw err;
  }
}

/**
 * The host's HTTP API for the CLI (set-up and read-back; calls go over Kafka):
 *   PUT    /runs/:run           this subsystem's initial state for a new run (entities, and for
 *                               xfs-fs the rmap records), replacing any earlier one
 *   GET    /runs/:run/state     the stored entities
 *   GET    /runs/:run/calls?incident=ID   the call records of one incident
 *   DELETE /runs/:run           everything of the run
 * Bodies use the model's JSON (bigint as {"$n": "…"}).
 */
@Controller('runs')
export class HopController {
  constructor(private readonly host: HopHost) {}

  @Post(':run')
  @HttpCode(204)
  async setup(@Param('run') run: string, @Body() body: unknown): Promise<void> {
    const b = body as { entities?: unknown; rmap?: unknown } | null;
    if (!b || !Array.isArray(b.entities) || !b.entities.every((e) => Array.isArray(e) && e.length === 2 && typeof e[0] === 'string' && typeof e[1] === 'string')) {
      throw new BadRequestException('body must be {"entities": [[key, json], …], "rmap"?: "…"}');
    }
    const rmap = typeof b.rmap === 'string' ? (decodeJson(b.rmap) as RmapRow[]) : [];
    if (!Array.isArray(rmap)) throw new BadRequestException('rmap must be the JSON of an array of {fs, agno, rec}');
    await this.host.setup(runId(run), new Map(b.entities as [string, string][]), rmap);
  }

  @Get(':run/state')
  async state(@Param('run') run: string): Promise<{ entities: [string, string][] }> {
    const entities = await known(() => this.host.store.entities(runId(run)));
    return { entities: [...entities] };
  }

  @Get(':run/calls')
  async calls(@Param('run') run: string, @Query('incident') incident: string | undefined): Promise<{ records: string }> {
    if (!incident || !INCIDENT.test(incident)) throw new BadRequestException('incident must be an incident id (a uuid)');
    const records = await this.host.store.incidentRecords(runId(run), incident);
    return { records: encodeJson(records) };
  }

  @Delete(':run')
  @HttpCode(204)
  async drop(@Param('run') run: string): Promise<void> {
    await this.host.store.drop(runId(run));
  }
}
