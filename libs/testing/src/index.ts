export * from './env';
export * from './otlp-collector';
export * from './postgres';
export * from './redis';
export * from './service-env';
export * from './topics';

/**
 * The process and service helpers integration tests use, which live in @mfsim/stack (the launchers
 * `mfsim stack` shares with the test runner): re-exported so a test needs one import. New code
 * outside tests imports them from @mfsim/stack.
 */
export {
  dropDatabase,
  findFreePorts,
  isProcessAlive,
  REPO_ROOT,
  RunningService,
  sleep,
  startServiceProcess,
  terminateProcess,
  waitFor,
  withDatabase,
} from '@mfsim/stack';
export * from './test-stack';
