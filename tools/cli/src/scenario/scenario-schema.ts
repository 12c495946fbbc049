/**
 * The structure of a scenario file (docs/scenario-format.md), described once with zod and
 * published as JSON Schema (docs/scenario.schema.json, `mfsim scenario schema`) so that an
 * editor with a YAML language server completes and checks scenario files.
 *
 * It says which keys exist, which are required, their types, spellings and enumerations. What
 * needs more than one field — overlaps, capacities, alignment, references between sections, the
 * limits on the whole file — stays in the reader (libs/scenario parse-scenario.ts), which is the
 * authority; scenario-schema.spec.ts keeps the two in step over every shipped file.
 */
import {
  ERRNO_ALIASES,
  ERRNO_NAMES,
  INJECTION_KINDS,
  MF_RESULTS,
  SHUTDOWN_NAMES,
  SI_CODES,
  SIGNAL_LSBS,
  SIGNAL_NAMES,
  SPECIAL_OWNERS,
} from '@mfsim/scenario';
import { z } from 'zod';

const HEX = '0[xX][0-9a-fA-F](?:_?[0-9a-fA-F])*';
const DECIMAL = '[0-9](?:_?[0-9])*';

/** A non-negative integer: a YAML number, or a decimal or 0x-hex string. */
const integer = z
  .union([z.int().min(0), z.string().regex(new RegExp(`^\\s*(?:${HEX}|${DECIMAL})\\s*$`))])
  .meta({ id: 'integer', description: 'an integer: 4096, or a string "4096" / "0x1000"' });
/** A byte quantity: an integer, or a decimal string with a binary suffix ("16GiB", "4k"). */
const size = z
  .union([z.int().min(0), z.string().regex(new RegExp(`^\\s*(?:${HEX}|${DECIMAL}(?:\\s*[kKmMgGtTpP](?:[iI][bB])?)?)\\s*$`))])
  .meta({ id: 'size', description: 'a size in bytes: 4096, "0x1000" or "16GiB" (KiB, MiB, GiB, TiB, PiB; K M G T P)' });
const positive = z.union([z.int().min(1), z.string().regex(new RegExp(`^\\s*(?:${HEX}|${DECIMAL})\\s*$`))]).meta({ id: 'positive', description: 'an integer of at least 1' });
/** A device, filesystem or injection name: text without whitespace. */
const name = z.string().regex(/^\S+$/).meta({ id: 'name', description: 'a name without whitespace' });
const text = z.string().min(1).meta({ id: 'text' });
const flag01 = z.union([z.literal(0), z.literal(1), z.enum(['0', '1'])]).meta({ id: 'flag01' });
const errno = z.enum([...ERRNO_NAMES, ...Object.keys(ERRNO_ALIASES)] as [string, ...string[]]).meta({ id: 'errno' });

const range = z.strictObject({ block: integer, count: positive }).meta({ id: 'blockRange' });

const partition = z.strictObject({ name, start: integer, sectors: positive });
const badblock = z.strictObject({ sector: integer, count: positive });
const pmemCommon = {
  name,
  physAddr: size.describe('first byte of the namespace resource (page-aligned)'),
  size,
  pfnPad: size.optional(),
  badblocks: z.array(badblock).optional(),
  partitions: z.array(partition).optional(),
};
/** dataOffset is required in fsdax mode (the default) and defaults to 0 in raw mode. */
const pmem = z.union([
  z.strictObject({ ...pmemCommon, mode: z.literal('fsdax').optional(), dataOffset: size }),
  z.strictObject({ ...pmemCommon, mode: z.literal('raw'), dataOffset: size.optional() }),
]);

const dmTarget = z.strictObject({ begin: integer, len: positive, type: z.literal('linear'), device: name, start: integer });
const dm = z.strictObject({ name, mode: z.enum(['proposal', 'upstream']).optional(), table: z.array(dmTarget).min(1) });

const file = z.strictObject({
  path: z.string().regex(/^\//).describe('an absolute path'),
  ino: positive,
  kind: z.enum(['regular', 'directory']).optional(),
  cache: z.enum(['active', 'uncached', 'transient']).optional(),
  daxFlag: z.boolean().optional(),
  extents: z.array(z.strictObject({ offset: integer, block: integer, count: positive })).optional(),
  attrBlocks: z.array(range).optional(),
  bmbtBlocks: z.array(range).optional(),
});
const fsCommon = {
  name,
  device: name,
  logDevice: name.optional(),
  blockSize: size.optional(),
  agCount: positive.optional(),
  rmapbt: z.boolean().optional(),
  reflink: z.boolean().optional(),
  dax: z.enum(['always', 'never', 'inode']).optional(),
  state: z.enum(['mounted', 'mounting']).optional(),
  frozen: z.enum(['none', 'user']).optional(),
  metadata: z.array(z.strictObject({ owner: z.enum(SPECIAL_OWNERS as [string, ...string[]]), block: integer, count: positive })).optional(),
  cowStaging: z.array(range).optional(),
  files: z.array(file).optional(),
};
/** agBlocks is required on XFS (the default type); ext4 defaults it to 32768. */
const filesystem = z.union([
  z.strictObject({ ...fsCommon, type: z.literal('xfs').optional(), agBlocks: positive }),
  z.strictObject({ ...fsCommon, type: z.literal('ext4'), agBlocks: positive.optional() }),
]);

const mmap = z.strictObject({
  fs: name,
  path: text,
  start: size.describe('page-aligned virtual address'),
  pgoff: integer,
  pages: positive,
  shared: z.boolean().optional(),
  faulted: z.union([z.enum(['all', 'none']), z.array(integer)]).optional(),
  pmd: z.boolean().optional(),
});
const pid = positive;
const process_ = z.strictObject({
  pid,
  comm: text,
  mceKill: z.enum(['default', 'early', 'late']).optional(),
  capSysAdmin: z.boolean().optional(),
  mmaps: z.array(mmap).optional(),
});

/** A number is read as its text. */
const injectionId = z.union([name, z.number()]).meta({ id: 'injectionId' });
const injectionBodies: Record<(typeof INJECTION_KINDS)[number], z.ZodType> = {
  madvise: z.strictObject({ pid, addr: size, pages: positive }),
  corruptPfn: z.strictObject({ pfn: integer }),
  mce: z.strictObject({ pid, pfn: integer, ripv: z.boolean().optional() }),
  background: z.strictObject({ pfn: integer }),
  unbind: z.strictObject({ device: name, pid }),
  access: z.strictObject({ pid, addr: size }),
};
/** Exactly one kind besides id. */
const injection = z.union(
  INJECTION_KINDS.map((kind) => z.strictObject({ id: injectionId, [kind]: injectionBodies[kind] })) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]],
);

const expectedSignal = z.strictObject({
  pid,
  signo: z.enum(SIGNAL_NAMES as [string, ...string[]]).optional(),
  code: z.enum(SI_CODES as [string, ...string[]]),
  addr: size.optional(),
  lsb: z.union(SIGNAL_LSBS.map((lsb) => z.literal(lsb)) as unknown as [z.ZodType, z.ZodType, ...z.ZodType[]]).optional(),
});
const expect = z.strictObject({
  injections: z.record(z.string(), z.strictObject({ rc: z.union([z.literal(0), z.literal('0'), errno, z.literal('PANIC')]) })).optional(),
  signals: z.array(expectedSignal).optional(),
  actionResults: z.array(z.strictObject({ pfn: integer, type: text, result: z.enum(MF_RESULTS as [string, ...string[]]) })).optional(),
  filesystems: z
    .record(
      z.string(),
      z.strictObject({
        shutdown: z.enum(SHUTDOWN_NAMES as [string, ...string[]]).optional(),
        frozen: z.enum(['none', 'user']).optional(),
        dax: z.boolean().optional(),
        mountError: z.union([errno, z.literal('none'), z.null()]).optional(),
      }),
    )
    .optional(),
  devices: z.record(z.string(), z.strictObject({ alive: z.boolean().optional(), holder: name.optional() })).optional(),
  pages: z.array(z.strictObject({ pfn: integer, hwpoison: z.boolean() })).optional(),
  ptes: z.array(z.strictObject({ pid, addr: size, present: z.boolean() })).optional(),
  incidents: z
    .array(z.strictObject({ id: injectionId, incident: text.optional(), traceId: text.optional(), status: z.enum(['complete', 'not-run']).optional() }))
    .optional(),
});

/** A whole scenario file. */
export const scenarioFileSchema = z
  .strictObject({
    name: text.describe('required, unique in a suite'),
    description: z.string().optional(),
    sysctl: z.strictObject({ memoryFailureEarlyKill: flag01.optional(), memoryFailureRecovery: flag01.optional() }).optional(),
    hwpoisonFilter: z.boolean().optional(),
    pmem: z.array(pmem).optional(),
    dm: z.array(dm).optional(),
    filesystems: z.array(filesystem).optional(),
    processes: z.array(process_).optional(),
    injections: z.array(injection).optional(),
    expect: expect.optional(),
  })
  .describe('An mfsim scenario: a pmem/dax/dm/XFS topology, processes, injections and the expected outcome (docs/scenario-format.md)');

/** The JSON Schema (draft-07, which YAML language servers read) of a scenario file. */
export function scenarioJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(scenarioFileSchema, { target: 'draft-7' }),
    title: 'mfsim scenario file',
  };
}

/** The schema as the committed file holds it: two-space JSON and a final newline. */
export function scenarioJsonSchemaText(): string {
  return `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
}
