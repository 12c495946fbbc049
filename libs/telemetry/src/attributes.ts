/**
 * The one place mfsim's span and log attribute keys are defined. Keys follow the kernel's names:
 * `<subsystem>.<field>`, with units in the field name where the kernel's name has none.
 * See README.md for types and examples.
 */
export const Attr = {
  /** uuid created once per injected failure and carried through every hop */
  FAILURE_ID: 'failure.id',
  /** envelope id of the message being handled */
  MESSAGE_ID: 'mfsim.message.id',
  /** envelope id of the message that caused this one */
  CAUSATION_ID: 'mfsim.causation.id',
  /** page frame number, hex string as the kernel prints it (`0x2080a0`) */
  PMEM_PFN: 'pmem.pfn',
  /** pages in the failed range (`nr_pages`) */
  PMEM_NR_PAGES: 'pmem.nr_pages',
  /** dax device id (`dax0.0`) */
  DAX_DEV: 'dax.dev',
  /** byte offset on the dax device, decimal string (u64) */
  DAX_OFFSET: 'dax.offset',
  /** length of the failed range in bytes, decimal string (u64; U64_MAX = whole device) */
  DAX_LEN: 'dax.len',
  /** `mf_flags` bitmask as an integer */
  MF_FLAGS: 'mf.flags',
  /** `MF_IGNORED` | `MF_FAILED` | `MF_DELAYED` | `MF_RECOVERED` */
  MF_RESULT: 'mf.result',
  /** errno name a layer returned (`EOPNOTSUPP`) */
  ERRNO: 'errno',
  /** address_space (inode) a dax kill targets */
  MM_MAPPING_ID: 'mm.mapping_id',
  /** first file page of a dax kill */
  MM_PGOFF: 'mm.pgoff',
  /** pages in a dax kill */
  MM_PGCNT: 'mm.pgcnt',
  /** task that consumed the poison (`current`) */
  MM_CURRENT_PID: 'mm.current_pid',
  /** OTel semconv: the class of error that ended a span */
  ERROR_TYPE: 'error.type',
} as const;

export type AttrKey = (typeof Attr)[keyof typeof Attr];

/** The attributes every handled message carries: its failure id and its own envelope id. */
export function messageAttributes(envelope: { id: string; failureId: string }): Record<string, string> {
  return { [Attr.FAILURE_ID]: envelope.failureId, [Attr.MESSAGE_ID]: envelope.id };
}
