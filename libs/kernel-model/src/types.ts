/** Objects more than one subsystem refers to. */

/**
 * A block device as a filesystem or dm target opens it: a whole disk (partStart 0) or a
 * partition of one. `disk` names the gendisk (a pmem namespace or a dm device); all
 * partitions of a disk share the disk's dax_device.
 */
export interface Bdev {
  readonly disk: string;
  readonly diskKind: 'pmem' | 'dm';
  /** The partition's name, or null for the whole disk. */
  readonly partition: string | null;
  /** First sector of the partition on the disk (0 for the whole disk). */
  readonly partStart: bigint;
  readonly nrSectors: bigint;
}

/** An inode's address_space: `<fs>:<ino>`. */
export type MappingId = string;

export function mappingId(fs: string, ino: bigint): MappingId {
  return `${fs}:${ino}`;
}


/** The answer of ->direct_access(): a pfn and how many pages are contiguous, or an errno. */
export type DirectAccess = { readonly rc: 0; readonly pfn: bigint; readonly nrPages: bigint } | { readonly rc: import('./errno').Errno };

/**
 * The object a call names. A missing one is a wiring bug of the caller (the scenario parser
 * validates every name), not a kernel outcome, so it throws instead of returning an errno.
 */
export function lookup<K, V>(map: ReadonlyMap<K, V>, key: K, what: string): V {
  const value = map.get(key);
  if (value === undefined) throw new Error(`no ${what} ${String(key)}`);
  return value;
}
