// --force replaces only what daxlab wrote before: a file the user named by mistake (a
// README, a profile of their own) is refused even then, as run's --out refuses a folder
// holding anything daxlab did not write (measure/export.ts checkOutput).

import { readFileSync } from 'node:fs';
import { UsageError } from './errors.js';

/** Throws unless the existing file at out is an earlier `what` (isPrevious reads its parsed JSON). */
export function checkReplaceable(out: string, what: string, isPrevious: (json: unknown) => boolean): void {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(out, 'utf8'));
  } catch {
    json = undefined;
  }
  if (json === undefined || !isPrevious(json)) {
    throw new UsageError(`--out: ${out} is not ${what} daxlab wrote; --force replaces only an earlier one, so choose another --out`);
  }
}

/** The field of a JSON object, or undefined. */
export function fieldOf(json: unknown, key: string): unknown {
  return typeof json === 'object' && json !== null ? (json as Record<string, unknown>)[key] : undefined;
}
