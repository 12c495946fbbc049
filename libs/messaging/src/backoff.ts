export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** Delay before attempt `attempt` (1-based): doubling from `initialMs`, capped at `maxMs`. */
export function backoffDelay({ initialMs, maxMs }: Backoff, attempt: number): number {
  return Math.min(maxMs, initialMs * 2 ** Math.max(0, attempt - 1));
}

/** Sleeps `ms`, or less if `signal` aborts first; never rejects. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve();
      return;
    }
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
