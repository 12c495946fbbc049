/**
 * Where the distributed mode finds the stack: the environment (KAFKA_BROKERS,
 * MFSIM_TOPIC_PREFIX, MFSIM_SERVICE_URLS="pmem=http://127.0.0.1:7101,xfs=http://…,…"), else
 * what `mfsim stack up` recorded in .mfsim/stack/state.json, else the defaults of `stack up`.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

import type { Subsystem } from '@mfsim/kernel-model';

import { ClusterError, SERVICE_OF, SUBSYSTEMS, type KafkaClusterOptions } from './kafka-cluster';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const DEFAULT_PORTS: Record<Subsystem, number> = { pmem: 7101, dax: 7102, dm: 7103, xfs: 7104, mm: 7105 };

interface RecordedProcess {
  port?: number;
}

export function stackTarget(env: NodeJS.ProcessEnv = process.env): Pick<KafkaClusterOptions, 'brokers' | 'topicPrefix' | 'serviceUrls' | 'adminToken'> {
  const stateFile = path.join(env.MFSIM_STACK_DIR ?? path.join(REPO_ROOT, '.mfsim', 'stack'), 'state.json');
  let state: { kafka?: RecordedProcess; services?: Record<string, RecordedProcess | RecordedProcess[] | undefined>; topicPrefix?: string; adminToken?: string } = {};
  if (existsSync(stateFile)) {
    try {
      state = JSON.parse(readFileSync(stateFile, 'utf8')) as typeof state;
    } catch {
      state = {};
    }
  }
  const brokers = (env.KAFKA_BROKERS ?? (state.kafka?.port ? `127.0.0.1:${state.kafka.port}` : '127.0.0.1:19092'))
    .split(',')
    .map((b) => b.trim())
    .filter((b) => b.length > 0);
  const topicPrefix = env.MFSIM_TOPIC_PREFIX ?? state.topicPrefix ?? '';
  const serviceUrls = {} as Record<Subsystem, string[]>;
  const given = new Map<string, string[]>();
  for (const part of (env.MFSIM_SERVICE_URLS ?? '').split(',').filter((p) => p.trim().length > 0)) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    if (eq < 0 || !(SUBSYSTEMS as readonly string[]).includes(name)) {
      throw new ClusterError(`MFSIM_SERVICE_URLS: "${part}" is not <pmem|dax|dm|xfs|mm>=<url>`);
    }
    given.set(name, [...(given.get(name) ?? []), part.slice(eq + 1).trim()]);
  }
  for (const subsys of SUBSYSTEMS) {
    const recorded = state.services?.[SERVICE_OF[subsys]];
    const ports = (Array.isArray(recorded) ? recorded : recorded ? [recorded] : []).map((r) => r.port).filter((p): p is number => typeof p === 'number');
    serviceUrls[subsys] = given.get(subsys) ?? (ports.length > 0 ? ports : [DEFAULT_PORTS[subsys]]).map((p) => `http://127.0.0.1:${p}`);
  }
  // The services' admin token: MFSIM_ADMIN_TOKEN, else the one `mfsim stack up` generated.
  const adminToken = env.MFSIM_ADMIN_TOKEN?.trim() || state.adminToken;
  return { brokers, topicPrefix, serviceUrls, ...(adminToken ? { adminToken } : {}) };
}
