import { z } from 'zod';

/**
 * The envelope every message travels in. `failureId` is created once, where the failure enters the
 * stack, and carried to the end; `causationId` is the `id` of the message that caused this one
 * (null for the first). Trace context is not here: it travels in Kafka headers.
 */
export const envelopeFields = {
  id: z.uuid(),
  type: z.string().min(1).max(64),
  version: z.number().int().positive(),
  failureId: z.uuid(),
  causationId: z.uuid().nullable(),
  occurredAt: z.iso.datetime({ offset: false }),
  source: z.string().min(1).max(64),
};

/** The envelope with its `data` unparsed: enough to read `id` and `type` before choosing a schema. */
export const envelopeSchema = z.strictObject({ ...envelopeFields, data: z.unknown() });
export type Envelope<TData = unknown, TType extends string = string> = Omit<
  z.infer<typeof envelopeSchema>,
  'data' | 'type'
> & { type: TType; data: TData };

/** The schema of a complete envelope whose `type`, `version` and `data` are fixed. */
export function envelopeOf<TType extends string, TVersion extends number, TData extends z.ZodType>(
  type: TType,
  version: TVersion,
  data: TData,
) {
  return z.strictObject({
    ...envelopeFields,
    type: z.literal(type),
    version: z.literal(version),
    data,
  });
}
