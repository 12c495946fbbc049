import { z } from 'zod';

import { envelopeOf } from './envelope';
import { Topic, Topics } from './topics';
import { hopCallV1Schema, hopReplyV1Schema } from './hop/hop.v1';

const call = () => contract('hop_call', 1, hopCallV1Schema);
const reply = () => contract('hop_reply', 1, hopReplyV1Schema);

/** One contract per topic: the envelope `type`, its version and the payload schema. */
export const Contracts = {
  [Topics.PMEM_CALL]: call(),
  [Topics.DAX_CALL]: call(),
  [Topics.DM_CALL]: call(),
  [Topics.XFS_CALL]: call(),
  [Topics.MM_CALL]: call(),
  [Topics.PMEM_REPLY]: reply(),
  [Topics.DAX_REPLY]: reply(),
  [Topics.DM_REPLY]: reply(),
  [Topics.XFS_REPLY]: reply(),
  [Topics.MM_REPLY]: reply(),
  [Topics.USER_REPLY]: reply(),
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
 * reason names the first few failing paths so a dead-letter header can carry it. An envelope of
 * another version is named as such.
 */
export function parseEnvelope<T extends Topic>(topic: T, value: unknown): ParseResult<T> {
  const contract = Contracts[topic];
  const result = contract.envelope.safeParse(value);
  if (result.success) {
    return { ok: true, envelope: result.data as EnvelopeOf<T> };
  }
  const version = (value as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && version !== contract.version) {
    return { ok: false, reason: `unknown version: ${topic} carries ${contract.type} v${contract.version}, got v${version}` };
  }
  return { ok: false, reason: describeIssues(result.error.issues) };
}

function describeIssues(issues: readonly z.core.$ZodIssue[]): string {
  const shown = issues.slice(0, 5).map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`);
  const more = issues.length > shown.length ? `; +${issues.length - shown.length} more` : '';
  return `schema: ${shown.join('; ')}${more}`;
}
