// Turns a zod issue into one line a user can act on: the field as they would write it, what
// was expected, and what was found (`files[0].size: expected a multiple of 4096, got 1000`).

import type { z } from 'zod';
import { formatPath } from '../util/format_path.js';

/** A workload that cannot run as written: a RangeError, so the CLI exits 2 without a stack. */
export class WorkloadError extends RangeError {
  override name = 'WorkloadError';
}

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s === undefined ? String(v) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${show(v)}`;
}

/** Fields a workload once had, and what replaced them. */
const RETIRED: Readonly<Record<string, string>> = {
  pmd:
    'no such field any more: as in the kernel, a DAX mapping tries PMD faults unless told not to; ' +
    'leave it out for PMDs, or set "madvise": "MADV_NOHUGEPAGE" for 4 KiB faults only',
};

/** One line for the first issue; `where` prefixes it (a file name or configuration). */
export function formatIssue(issue: z.core.$ZodIssue, where?: string): string {
  const i = issue as z.core.$ZodIssue & { input?: unknown };
  let path = [...i.path];
  let msg: string;
  switch (i.code) {
    case 'invalid_type':
      msg = i.input === undefined ? `required: expected ${i.expected}` : `expected ${i.expected}, got ${kindOf(i.input)}`;
      break;
    case 'too_small':
      msg =
        i.origin === 'array'
          ? `expected at least ${String(i.minimum)} entr${i.minimum === 1 ? 'y' : 'ies'}`
          : `expected ${i.origin} ${i.inclusive ? '>=' : '>'} ${String(i.minimum)}, got ${show(i.input)}`;
      break;
    case 'too_big':
      msg = `expected ${i.origin} ${i.inclusive ? '<=' : '<'} ${String(i.maximum)}, got ${show(i.input)}`;
      break;
    case 'invalid_value':
      msg = `expected one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}, got ${show(i.input)}`;
      break;
    case 'unrecognized_keys':
      path = [...path, i.keys[0]];
      msg = RETIRED[i.keys[0]] ?? 'unknown field (check its spelling against the workload reference in workloads/README.md)';
      break;
    case 'invalid_union': {
      const u = i as { discriminator?: string; options?: unknown[] };
      if (u.discriminator !== undefined) {
        if (path[path.length - 1] !== u.discriminator) path = [...path, u.discriminator];
        const got = (i.input as Record<string, unknown> | undefined)?.[u.discriminator];
        msg = `expected one of ${(u.options ?? []).map((v) => JSON.stringify(v)).join(', ')}, got ${show(got)}`;
      } else {
        msg = i.message;
      }
      break;
    }
    case 'invalid_format':
      msg = `${i.message}, got ${show(i.input)}`;
      break;
    default:
      msg = i.message;
  }
  const line = `${formatPath(path)}: ${msg}`;
  return where ? `${where}: ${line}` : line;
}

/** Parses with a schema or throws a WorkloadError for its first issue. */
export function parseOrThrow<S extends z.ZodType>(schema: S, data: unknown, where?: string): z.infer<S> {
  const r = schema.safeParse(data, { reportInput: true });
  if (!r.success) throw new WorkloadError(formatIssue(r.error.issues[0], where));
  return r.data;
}
