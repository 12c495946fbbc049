import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every scenario file under `dir`, recursively, except the `invalid` and `chaos` (plans, histories) folders, in name order. */
export function scenarioFilesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      if (name !== 'invalid' && name !== 'chaos') out.push(...scenarioFilesUnder(p));
    } else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}
