/**
 * Hop boundaries: running a call on the embedded bus so that other root calls can run between
 * two of its hops, against the same kernel (docs/chaos-history.md, "Races: linearization points
 * inside an unbind").
 *
 * In distributed mode a call into another subsystem is a message: the caller's step ends when
 * it sends the call and a new step starts when the reply arrives; calls within one subsystem run
 * nested in the same step. Each step is atomic in its service, but between two steps the
 * services handle other messages — another injection's hops. This executor drives the same hop
 * generators as the bus (`dispatch`), and numbers those boundaries 1, 2, 3, … in the order the
 * call tree reaches them: boundary 2n-1 is just before the n-th cross-subsystem call is sent,
 * boundary 2n just after its reply came back (before the caller resumes). At each boundary it
 * calls `at(n)`, which may run other root calls on the kernel (re-entrantly: every suspended
 * generator of this call waits, exactly as a hop waiting for its reply does). Nothing here
 * changes the kernel rules; with `at` doing nothing the result is runCall's.
 */
import { answerLocal, dispatch, KernelPanic, ownerOf, type Call, type Effect, type Kernel, type OpName, type TaskCtx } from '@mfsim/kernel-model';

export interface BoundaryRun {
  readonly result: unknown;
  readonly panic: string | null;
  /** How many boundaries the call tree had (2 per cross-subsystem call). */
  readonly boundaries: number;
}

/**
 * Runs `op(args)` to completion, calling `at(n)` at each hop boundary n (see above) and
 * `onCall` for every call dispatched. A kernel panic (also one raised by a call `at` ran) stops
 * the call: the result is undefined and the kernel stays panicked.
 */
export function runCallAtBoundaries(
  kernel: Kernel,
  op: OpName,
  args: unknown,
  ctx: TaskCtx,
  at: (boundary: number) => void,
  onCall?: (call: Call) => void,
): BoundaryRun {
  if (kernel.panic) throw new Error(`the kernel has panicked (${kernel.panic}); nothing runs after it`);
  let n = 0;
  const boundary = (): void => {
    at(++n);
    if (kernel.panic) throw new KernelPanic(kernel.panic);
  };
  const execute = (call: Call): unknown => {
    onCall?.(call);
    const own = ownerOf(call.op);
    const hop = dispatch(kernel, call, ctx);
    let input: unknown = undefined;
    for (;;) {
      const step: IteratorResult<Effect, unknown> = hop.next(input);
      if (step.done) return step.value;
      const effect = step.value;
      if (effect.kind === 'log') input = undefined;
      else if (effect.kind !== 'call') input = answerLocal(kernel, effect);
      else if (ownerOf(effect.op) === own) input = execute(effect);
      else {
        boundary();
        input = execute(effect);
        boundary();
      }
    }
  };
  try {
    const result = execute({ kind: 'call', op, args } as Call);
    return { result, panic: null, boundaries: n };
  } catch (err) {
    if (!(err instanceof KernelPanic)) throw err;
    kernel.panic = err.message;
    return { result: undefined, panic: err.message, boundaries: n };
  }
}
