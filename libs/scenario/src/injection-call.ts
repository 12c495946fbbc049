/** The root call of each injection kind (shared by the distributed runner and runScenario's hop boundaries). */
import type { OpName, TaskCtx } from '@mfsim/kernel-model';
import type { InjectionSpec, Scenario } from './scenario.types';

/** The root call an injection is, as `injectOnce` makes it on the embedded bus. */
export function injectionCall(scenario: Scenario, inj: InjectionSpec): { op: OpName; args: unknown; ctx: TaskCtx } {
  switch (inj.kind) {
    case 'madvise':
      return { op: 'mm.madviseInjectError', args: { pid: inj.pid, start: inj.addr, pages: BigInt(inj.pages) }, ctx: { current: inj.pid } };
    case 'corruptPfn':
      return { op: 'mm.hwpoisonInject', args: { pfn: inj.pfn }, ctx: { current: null } };
    case 'mce':
      return { op: 'mm.doMachineCheck', args: { pid: inj.pid, pfn: inj.pfn, ripv: inj.ripv }, ctx: { current: inj.pid } };
    case 'background':
      return { op: 'mm.ucDecodeNotifier', args: { pfn: inj.pfn }, ctx: { current: null } };
    case 'unbind':
      if (scenario.dm.some((d) => d.name === inj.device)) return { op: 'dm.dmRemove', args: { md: inj.device }, ctx: { current: inj.pid } };
      return { op: 'pmem.ndPmemRemove', args: { disk: inj.device }, ctx: { current: inj.pid } };
    case 'access':
      return { op: 'mm.userAccess', args: { pid: inj.pid, addr: inj.addr }, ctx: { current: inj.pid } };
    default: {
      const never: never = inj;
      throw new Error(`unknown injection ${JSON.stringify(never)}`);
    }
  }
}
