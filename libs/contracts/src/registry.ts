import { z } from 'zod';

import { envelopeOf } from './envelope';
import { Topic, Topics } from './topics';
import { daxKillProcsV1Schema } from './mm/dax-kill-procs.v1';
import { actionResultV1Schema } from './mm/action-result.v1';
import { memoryFailureV1Schema } from './mm/memory-failure.v1';
import { notifyFailureV1Schema } from './dax/notify-failure.v1';
import { pagemapMemoryFailureV1Schema } from './pgmap/pagemap-memory-failure.v1';
import { unbindV1Schema } from './pmem/unbind.v1';

/**
 * One contract per topic: the envelope `type` (the kernel call the hop stands for, in the kernel's
 * snake_case), its version and the payload schema.
 */
export const Contracts = {
  [Topics.MM_MEMORY_FAILURE]: contract('memory_failure', 1, memoryFailureV1Schema),
  [Topics.PGMAP_MEMORY_FAILURE]: contract('pagemap_memory_failure', 1, pagemapMemoryFailureV1Schema),
  [Topics.DAX_HOLDER_NOTIFY_FAILURE]: contract('dax_holder_notify_failure', 1, notifyFailureV1Schema),
  [Topics.DM_DAX_NOTIFY_FAILURE]: contract('dm_dax_notify_failure', 1, notifyFailureV1Schema),
  [Topics.XFS_DAX_NOTIFY_FAILURE]: contract('xfs_dax_notify_failure', 1, notifyFailureV1Schema),
  [Topics.MM_DAX_KILL_PROCS]: contract('mf_dax_kill_procs', 1, daxKillProcsV1Schema),
  [Topics.MM_ACTION_RESULT]: contract('action_result', 1, actionResultV1Schema),
  [Topics.PMEM_UNBIND]: contract('pmem_unbind', 1, unbindV1Schema),
} as const satisfies Record<Topic, unknown>;

function contract<TType extends string, TVersion extends number, TData extends z.ZodType>(
  type: TType,
  version: TVersion,
  data: TData,
) {
  return { type, version, data, envelope: envelopeOf(type, version, data) };
}

export type ContractOf<T extends Topic> = (typeof Contracts)[T];
/** The payload type carried on topic `T`. */
export type DataOf<T extends Topic> = z.infer<ContractOf<T>['data']>;
/** The complete, parsed envelope carried on topic `T`. */
export type EnvelopeOf<T extends Topic> = z.infer<ContractOf<T>['envelope']>;

export type ParseResult<T extends Topic> =
  | { ok: true; envelope: EnvelopeOf<T> }
  | { ok: false; reason: string };

/**
 * Parses a message value (already JSON-decoded) as the envelope of `topic`. Never throws: the
 * reason names the first few failing paths so a dead-letter header can carry it.
 */
export function parseEnvelope<T extends Topic>(topic: T, value: unknown): ParseResult<T> {
  const result = Contracts[topic].envelope.safeParse(value);
  if (result.success) {
    return { ok: true, envelope: result.data as EnvelopeOf<T> };
  }
  return { ok: false, reason: describeIssues(result.error.issues) };
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  const more = issues.length > shown.length ? `; +${issues.length - shown.length} more` : '';
  return `schema: ${shown.join('; ')}${more}`;
}
