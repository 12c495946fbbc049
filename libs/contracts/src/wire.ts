import { z } from 'zod';

export const U64_MAX = 18446744073709551615n;

/** A page frame number as the kernel prints it with `%#lx`: `0x` + lower-case hex, at most 64 bits. */
export const pfnSchema = z.string().regex(/^0x[0-9a-f]{1,16}$/, 'pfn must be 0x-prefixed lower-case hex');

/**
 * A u64 on the wire: a decimal string, because `JSON.stringify` throws on BigInt and a JS number
 * loses precision above 2^53. Code converts it with `BigInt()` at the service boundary.
 */
export const u64Schema = z
  .string()
  .regex(/^(0|[1-9][0-9]{0,19})$/, 'u64 must be a decimal string without leading zeros')
  .refine((value) => BigInt(value) <= U64_MAX, 'u64 out of range');

/** `mf_flags`: one bitmask passed through every layer unchanged (MF_ACTION_REQUIRED, MF_MUST_KILL, …). */
export const mfFlagsSchema = z.number().int().min(0).max(0xffffffff);

export const pidSchema = z.number().int().positive();

/** Errnos the simulation reports; a result event carries one or `null` for success. */
export const errnoSchema = z.enum(['EIO', 'ENXIO', 'EBUSY', 'EOPNOTSUPP', 'EFSCORRUPTED', 'EHWPOISON']);
export type WireErrno = z.infer<typeof errnoSchema>;

/** A dax device id, also the Kafka message key so failures on one device stay in order. */
export const daxDevSchema = z.string().min(1).max(128);
