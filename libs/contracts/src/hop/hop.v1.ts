import { z } from 'zod';

/**
 * A call from one subsystem into another (or a root call from the CLI): the op it stands for
 * (`mm.mfDaxKillProcs`, named after the kernel function it models), its arguments as the
 * model's JSON (bigint as `{"$n":"…"}`), the task context, and the call id. Call ids are
 * derived from the incident and the call's place in the tree (`<incident>.<n>.<m>…`), so a
 * step replayed after a crash asks for the same id and finds the earlier answer.
 */
const callId = z.string().min(1).max(2048).regex(/^[0-9a-f-]{36}(\.[0-9]{1,9})*$/, 'call id must be <uuid>(.<n>)*');
const host = z.enum(['pmem', 'dax', 'dm', 'xfs', 'mm']);

export const hopCallV1Schema = z.strictObject({
  /** the run (namespace) the call belongs to */
  run: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/),
  id: callId,
  op: z.string().regex(/^(pmem|dax|dm|xfs|mm)\.[A-Za-z0-9]+$/, 'op must be <subsys>.<name>'),
  args: z.string().max(1_000_000),
  ctx: z.strictObject({ current: z.number().int().nullable() }),
  /** the caller's chain (echoed in the reply) */
  chain: callId,
  from: z.union([host, z.literal('user')]),
});
export type HopCallV1 = z.infer<typeof hopCallV1Schema>;

/** The result of a call, back to its caller: the model's JSON, or the panic that ended it. */
export const hopReplyV1Schema = z.strictObject({
  run: z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/),
  id: callId,
  chain: callId,
  result: z.string().max(1_000_000).nullable(),
  panic: z.string().max(4096).nullable(),
  /** the call could not run (an unknown device, file or run): a bad call, not a kernel outcome */
  error: z.string().max(4096).nullable().default(null),
  from: host,
});
export type HopReplyV1 = z.infer<typeof hopReplyV1Schema>;
