/**
 * Kafka topics between the five services. A service serves the calls into its subsystem on
 * `<subsys>.call.v1` and receives the results of the calls it made on `<subsys>.reply.v1`;
 * `user.reply.v1` carries the results of root calls (injections, set-up) back to whoever sent
 * them (the CLI). Every topic has a dead-letter twin `<topic>.dlq` that receives the messages
 * its consumer could not parse.
 */
export const Topics = {
  /** calls into drivers/nvdimm/pmem.c: pmem_pagemap_memory_failure, __pmem_direct_access, nd_pmem_remove (unbind), … */
  PMEM_CALL: 'pmem.call.v1',
  /** calls into drivers/dax/super.c: dax_holder_notify_failure, kill_dax, dax_direct_access, … */
  DAX_CALL: 'dax.call.v1',
  /** calls into drivers/md/dm*.c: dm_dax_notify_failure (the proposal's holder), dm remove, … */
  DM_CALL: 'dm.call.v1',
  /** calls into fs/xfs: xfs_dax_notify_failure, the fault's iomap, mount, fs_bdev_mark_dead, … */
  XFS_CALL: 'xfs.call.v1',
  /** calls into mm: memory_failure injections, mf_dax_kill_procs, invalidate_inode_pages2_range, faults */
  MM_CALL: 'mm.call.v1',
  PMEM_REPLY: 'pmem.reply.v1',
  DAX_REPLY: 'dax.reply.v1',
  DM_REPLY: 'dm.reply.v1',
  XFS_REPLY: 'xfs.reply.v1',
  MM_REPLY: 'mm.reply.v1',
  /** results of root calls, for the CLI that sent them */
  USER_REPLY: 'user.reply.v1',
} as const;

export type Topic = (typeof Topics)[keyof typeof Topics];
export type DlqTopic = `${Topic}.dlq`;

export const TOPICS: readonly Topic[] = Object.values(Topics);

/** A subsystem's host, or the user (CLI) for root calls. */
export type HopHost = 'pmem' | 'dax' | 'dm' | 'xfs' | 'mm';
export const HOP_HOSTS: readonly HopHost[] = ['pmem', 'dax', 'dm', 'xfs', 'mm'];

export function callTopic(host: HopHost): Topic {
  return `${host}.call.v1` as Topic;
}

export function replyTopic(host: HopHost | 'user'): Topic {
  return `${host}.reply.v1` as Topic;
}

export function dlqTopic<T extends Topic>(topic: T): `${T}.dlq` {
  return `${topic}.dlq`;
}

/** Every topic the stack uses, dead-letter topics included (for creating and deleting them). */
export const ALL_TOPICS: readonly (Topic | DlqTopic)[] = [...TOPICS, ...TOPICS.map(dlqTopic)];

/**
 * The physical Kafka topic name for `topic` under `prefix` (`MFSIM_TOPIC_PREFIX`). The prefix is
 * prepended as is, so it carries its own separator (`run42.` → `run42.mm.call.v1`).
 */
export function topicName(prefix: string, topic: Topic | DlqTopic): string {
  return `${prefix}${topic}`;
}
