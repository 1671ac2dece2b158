// Cost profiles: files of named constants, each with its source (a paper, a measurement, or
// the seed's table). A profile is JSON:
//
//   { "name": "optane-adr", "description": "one line",
//     "costs": { "trapNs": { "ns": 280, "source": "..." }, ... every cost in COST_NAMES ... },
//     "notes": ["optional lines: which constant came from which row, what is predicted"] }
//
// Shipped profiles live in src/cost/profiles/ and are read at run time (tsc does not copy
// JSON into dist/, and users pass their own files by path the same way). A constant is the
// cost of one kernel or device step (costs.ts says which), never a per-configuration fudge.
//
// The run carries the plain numbers (profileCosts) in MachineConfig.costs, so every CPU
// worker charges the same costs.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { packageRoot } from '../util/package_root.js';
import { COST_MEANINGS, COST_NAMES, MAX_COST_NS, type CostName, type Costs } from './costs.js';
import { formatPath } from '../util/format_path.js';

export { COST_MEANINGS, COST_NAMES, ZERO_COSTS, resolveCosts, type CostName, type Costs } from './costs.js';

/** One constant: its value and where it comes from. */
export interface CostConstant {
  ns: number;
  source: string;
}

export interface CostProfile {
  name: string;
  description: string;
  costs: Record<CostName, CostConstant>;
  notes?: string[];
  /** The file it was read from (absolute path). */
  file: string;
}

/** Where the shipped profiles are: src/cost/profiles/ of the package, from src/ and from dist/ alike. */
export function profilesDir(): string {
  return fileURLToPath(new URL('src/cost/profiles/', packageRoot()));
}

const NUMBER = 'expected a number >= 0';
/** The largest profile file read: one is a few KiB. */
const MAX_PROFILE_BYTES = 1 << 20;

const CostConstantSchema = z.strictObject(
  {
    ns: z
      .number({ error: NUMBER })
      .min(0, { error: NUMBER })
      .max(MAX_COST_NS, { error: `expected a number <= ${MAX_COST_NS} (one second)` }),
    source: z
      .string({ error: 'expected a string naming the source (a paper, a measurement, or the seed\'s table)' })
      .trim()
      .min(1, { error: "expected a non-empty source (a paper, a measurement, or the seed's table)" }),
  },
  {
    error: (iss) =>
      iss.input === undefined
        ? 'missing: every cost needs {"ns", "source"} (0 is allowed, with a source saying why)'
        : 'expected an object {"ns": number, "source": string}',
  },
);

const CostsSchema = z.strictObject(
  Object.fromEntries(COST_NAMES.map((n) => [n, CostConstantSchema])) as Record<CostName, typeof CostConstantSchema>,
  { error: 'expected an object with one {"ns", "source"} per cost' },
);

const ProfileSchema = z.strictObject(
  {
    name: z.string({ error: 'expected a string' }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected a name of letters, digits, ".", "_" and "-"' }),
    description: z.string({ error: 'expected a string (one line)' }).min(1, { error: 'expected a non-empty description' }),
    costs: CostsSchema,
    notes: z.array(z.string({ error: 'expected a string' }), { error: 'expected an array of strings' }).optional(),
  },
  { error: 'expected an object {"name", "description", "costs"}' },
);

function issueLine(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const inCosts = issue.path.length === 1 && issue.path[0] === 'costs';
    const known = inCosts ? COST_NAMES.join(', ') : issue.path.length === 0 ? 'name, description, costs, notes' : 'ns, source';
    return `${formatPath([...issue.path, issue.keys[0]])}: unknown ${inCosts ? 'cost' : 'field'} (known: ${known})`;
  }
  return `${formatPath(issue.path)}: ${issue.message}`;
}

/** The names of the shipped profiles, sorted. */
export function shippedProfileNames(): string[] {
  return readdirSync(profilesDir())
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

function looksLikePath(s: string): boolean {
  return s.includes('/') || s.includes('\\') || s.endsWith('.json');
}

/**
 * Reads and validates a profile: a shipped name (`optane-adr`) or a path to a JSON file.
 * Errors are RangeErrors naming the profile and the field
 * (`profile optane-adr: costs.trapNs.ns: expected a number >= 0`); an unknown name lists
 * the shipped profiles.
 */
export function loadProfile(nameOrPath: string): CostProfile {
  if (typeof nameOrPath !== 'string' || nameOrPath === '') {
    throw new RangeError(`profile: expected a shipped profile name (${shippedProfileNames().join(', ')}) or a path to a profile file`);
  }
  const shipped = !looksLikePath(nameOrPath);
  let file: string;
  if (shipped) {
    const names = shippedProfileNames();
    if (!names.includes(nameOrPath)) {
      throw new RangeError(`profile ${nameOrPath}: unknown profile (shipped: ${names.join(', ')}; or give a path to a profile file)`);
    }
    file = resolve(profilesDir(), `${nameOrPath}.json`);
  } else {
    file = resolve(nameOrPath);
  }
  let text: string;
  try {
    // A device or FIFO given by mistake (/dev/zero) would be read for ever.
    const st = statSync(file);
    if (!st.isFile()) throw new RangeError(`profile ${nameOrPath}: ${file} is not a regular file`);
    if (st.size > MAX_PROFILE_BYTES) throw new RangeError(`profile ${nameOrPath}: ${file} has ${st.size} bytes; a profile holds at most ${MAX_PROFILE_BYTES}`);
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if (e instanceof RangeError) throw e;
    throw new RangeError(`profile ${nameOrPath}: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new RangeError(`profile ${nameOrPath}: not JSON (${(e as Error).message})`);
  }
  const r = ProfileSchema.safeParse(data);
  if (!r.success) throw new RangeError(`profile ${nameOrPath}: ${issueLine(r.error.issues[0])}`);
  const p = r.data;
  if (shipped && p.name !== nameOrPath) {
    throw new RangeError(`profile ${nameOrPath}: name: expected ${JSON.stringify(nameOrPath)} (the file's name), got ${JSON.stringify(p.name)}`);
  }
  const out: CostProfile = { name: p.name, description: p.description, costs: p.costs, file };
  if (p.notes !== undefined) out.notes = p.notes;
  return out;
}

/** The shipped profiles with their one-line descriptions (for `daxlab list`). */
export function listProfiles(): { name: string; description: string }[] {
  return shippedProfileNames().map((n) => {
    const p = loadProfile(n);
    return { name: p.name, description: p.description };
  });
}

/** The profile's constants as plain numbers, for MachineConfig.costs and results.json's profile.costs. */
export function profileCosts(p: CostProfile): Costs {
  const out = {} as Costs;
  for (const n of COST_NAMES) out[n] = p.costs[n].ns;
  return out;
}

/** The profile as a table: one line per cost with its value, meaning and source (for --help and reports). */
export function describeProfile(p: CostProfile): string {
  const w = Math.max(...COST_NAMES.map((n) => n.length));
  const lines = [`${p.name}: ${p.description}`];
  for (const n of COST_NAMES) {
    lines.push(`  ${n.padEnd(w)} ${String(p.costs[n].ns).padStart(8)} ns  ${COST_MEANINGS[n]}`);
    lines.push(`  ${''.padEnd(w)} ${''.padStart(8)}     source: ${p.costs[n].source}`);
  }
  return lines.join('\n');
}
