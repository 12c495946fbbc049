/**
 * Kafka topics between the five services. A topic is named `<subsys>.<kernel_op>.v<N>` after the
 * kernel call the hop stands for; every topic has a dead-letter twin `<topic>.dlq` that receives
 * messages its consumer could not parse.
 */
export const Topics = {
  /** injector/MCE → mm-process: `memory_failure(pfn, flags)` */
  MM_MEMORY_FAILURE: 'mm.memory_failure.v1',
  /** mm-process → pmem-driver: `pgmap->ops->memory_failure` */
  PGMAP_MEMORY_FAILURE: 'pgmap.memory_failure.v1',
  /** pmem-driver / dm-mapper → dax-core: `dax_holder_notify_failure()` */
  DAX_HOLDER_NOTIFY_FAILURE: 'dax.holder_notify_failure.v1',
  /**
   * dax-core → dm-mapper: `holder_ops->notify_failure` = `dm_dax_notify_failure()`. Only in the
   * proposal mode; mainline dm registers no holder (see services/dm-mapper/README.md).
   */
  DM_DAX_NOTIFY_FAILURE: 'dm.dax_notify_failure.v1',
  /** dax-core → xfs-fs: `holder_ops->notify_failure` = `xfs_dax_notify_failure()` */
  XFS_DAX_NOTIFY_FAILURE: 'xfs.dax_notify_failure.v1',
  /** xfs-fs → mm-process: `mf_dax_kill_procs()` */
  MM_DAX_KILL_PROCS: 'mm.dax_kill_procs.v1',
  /** mm-process (observable): `action_result()` */
  MM_ACTION_RESULT: 'mm.action_result.v1',
  /** admin → pmem-driver: namespace unbind (`pmem_remove` → `kill_dax`) */
  PMEM_UNBIND: 'pmem.unbind.v1',
} as const;

export type Topic = (typeof Topics)[keyof typeof Topics];
export type DlqTopic = `${Topic}.dlq`;

export const TOPICS: readonly Topic[] = Object.values(Topics);

export function dlqTopic<T extends Topic>(topic: T): `${T}.dlq` {
  return `${topic}.dlq`;
}

/** Every topic the stack uses, dead-letter topics included (for creating and deleting them). */
export const ALL_TOPICS: readonly (Topic | DlqTopic)[] = [...TOPICS, ...TOPICS.map(dlqTopic)];

/**
 * The physical Kafka topic name for `topic` under `prefix` (`MFSIM_TOPIC_PREFIX`). The prefix is
 * prepended as is, so it carries its own separator (`run42.` → `run42.mm.memory_failure.v1`).
 */
export function topicName(prefix: string, topic: Topic | DlqTopic): string {
  return `${prefix}${topic}`;
}
