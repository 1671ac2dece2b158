// Cost profiles: files of named constants, each with its kind and source, and the parameters
// of the idle wake-up distribution. A profile is JSON:
//
//   { "name": "optane-adr", "description": "one line",
//     "costs": { "trapNs": { "ns": 280, "kind": "measured", "source": "..." }, ... every cost in COST_NAMES ... },
//     "idleWakeup": { "distribution": "lognormal",
//                     "medianNs": { "ns": 10000, "kind": "estimated", "source": "..." },
//                     "sigma": { "value": 0.5, "kind": "estimated", "source": "..." },
//                     "minIdleNs": { "ns": 20000, "kind": "published", "source": "..." } },
//     "notes": ["optional lines: which constant came from which row, what is predicted"] }
//
// Every value says what kind it is (costs.ts COST_KINDS): measured, published, fitted (with
// the seed rows it was fitted to, "rows": [...]), estimated, or none (the zero profile's 0).
//
// Shipped profiles live in src/cost/profiles/ and are read at run time (tsc does not copy
// JSON into dist/, and users pass their own files by path the same way). A constant is the
// cost of one kernel or device step (costs.ts says which), never a per-configuration fudge.
//
// The run carries the plain numbers (profileMachineCosts) in MachineConfig.costs and
// MachineConfig.idleWakeup, so every CPU worker charges the same costs.

import { readFileSync, readdirSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { packageRoot } from '../util/package_root.js';
import { COST_KINDS, COST_MEANINGS, COST_NAMES, MAX_COST_NS, type CostKind, type CostName, type Costs } from './costs.js';
import { IDLE_WAKEUP_DISTRIBUTIONS, IDLE_WAKEUP_MEANINGS, MAX_IDLE_NS, MAX_SIGMA, type IdleWakeup, type IdleWakeupDistribution, type IdleWakeupParam } from './idle_wakeup.js';
import { formatPath } from '../util/format_path.js';
import { parseJsonText } from '../util/json_input.js';

export { COST_MEANINGS, COST_NAMES, ZERO_COSTS, resolveCosts, type CostName, type Costs } from './costs.js';

/** Where a value comes from: its kind, its source, and for a fitted one the rows it was fitted to. */
export interface Provenance {
  kind: CostKind;
  source: string;
  rows?: string[];
}

/** One constant: its value in ns and where it comes from. */
export interface CostConstant extends Provenance {
  ns: number;
}

/** The idle wake-up distribution's parameters, each with where it comes from. */
export interface IdleWakeupProfile {
  distribution: IdleWakeupDistribution;
  medianNs: CostConstant;
  sigma: Provenance & { value: number };
  minIdleNs: CostConstant;
}

export interface CostProfile {
  name: string;
  description: string;
  costs: Record<CostName, CostConstant>;
  idleWakeup: IdleWakeupProfile;
  notes?: string[];
  /** The file it was read from (absolute path). */
  file: string;
}

/** What a run's machine charges: the constants and the idle wake-up distribution (MachineConfig.costs, .idleWakeup). */
export interface MachineCosts {
  costs: Costs;
  idleWakeup: IdleWakeup;
}

/** Where the shipped profiles are: src/cost/profiles/ of the package, from src/ and from dist/ alike. */
export function profilesDir(): string {
  return fileURLToPath(new URL('src/cost/profiles/', packageRoot()));
}

const NUMBER = 'expected a number >= 0';
/** The largest profile file read: one is a few KiB. */
const MAX_PROFILE_BYTES = 1 << 20;
const SOURCE_HINT = "a paper, a measurement, the kernel source, or the seed's rows";

/** kind, source and rows, shared by every value; `value` is the value's own field (ns, or sigma's value). */
function provenanceFields() {
  return {
    kind: z.enum(COST_KINDS, { error: `expected one of ${COST_KINDS.join(', ')}` }),
    source: z
      .string({ error: `expected a string naming the source (${SOURCE_HINT})` })
      .trim()
      .min(1, { error: `expected a non-empty source (${SOURCE_HINT})` }),
    rows: z
      .array(z.string({ error: 'expected a row name' }).trim().min(1, { error: 'expected a non-empty row name' }), { error: 'expected an array of row names' })
      .min(1, { error: 'expected at least one row name' })
      .optional(),
  };
}

/** A fitted value names its rows, and only a fitted one does; a value of kind none is 0. */
function checkProvenance(v: Provenance, value: number, ctx: z.RefinementCtx): void {
  if (v.kind === 'fitted' && v.rows === undefined) {
    ctx.addIssue({ code: 'custom', path: ['rows'], message: 'missing: a fitted value names the rows it was fitted to ("rows": ["empty-nobg-sync"])' });
  }
  if (v.kind !== 'fitted' && v.rows !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['rows'], message: `only a fitted value names rows (this one is ${v.kind})` });
  }
  if (v.kind === 'none' && value !== 0) {
    ctx.addIssue({ code: 'custom', path: ['kind'], message: `none means no cost injected: expected the value 0, got ${value}` });
  }
}

const missingConstant = (iss: { input: unknown }) =>
  iss.input === undefined
    ? 'missing: every cost needs {"ns", "kind", "source"} (0 is allowed, with a source saying why)'
    : 'expected an object {"ns": number, "kind": string, "source": string}';

function nsConstantSchema(max: number) {
  return z
    .strictObject(
      {
        ns: z
          .number({ error: NUMBER })
          .min(0, { error: NUMBER })
          .max(max, { error: `expected a number <= ${max} (one second)` }),
        ...provenanceFields(),
      },
      { error: missingConstant },
    )
    .superRefine((v, ctx) => checkProvenance(v, v.ns, ctx));
}

const CostConstantSchema = nsConstantSchema(MAX_COST_NS);

const CostsSchema = z.strictObject(
  Object.fromEntries(COST_NAMES.map((n) => [n, CostConstantSchema])) as Record<CostName, typeof CostConstantSchema>,
  { error: 'expected an object with one {"ns", "kind", "source"} per cost' },
);

const SIGMA = `expected a number from 0 to ${MAX_SIGMA}`;

const IdleWakeupSchema = z.strictObject(
  {
    distribution: z.enum(IDLE_WAKEUP_DISTRIBUTIONS, { error: `expected one of ${IDLE_WAKEUP_DISTRIBUTIONS.join(', ')}` }),
    medianNs: nsConstantSchema(MAX_IDLE_NS),
    sigma: z
      .strictObject(
        { value: z.number({ error: SIGMA }).min(0, { error: SIGMA }).max(MAX_SIGMA, { error: SIGMA }), ...provenanceFields() },
        { error: (iss) => (iss.input === undefined ? 'missing: {"value", "kind", "source"}' : 'expected an object {"value": number, "kind": string, "source": string}') },
      )
      .superRefine((v, ctx) => checkProvenance(v, v.value, ctx)),
    minIdleNs: nsConstantSchema(MAX_IDLE_NS),
  },
  {
    error: (iss) =>
      iss.input === undefined
        ? 'missing: every profile gives the idle wake-up distribution {"distribution", "medianNs", "sigma", "minIdleNs"} (the zero profile: medianNs 0, kind none)'
        : 'expected an object {"distribution", "medianNs", "sigma", "minIdleNs"}',
  },
);

const ProfileSchema = z.strictObject(
  {
    name: z.string({ error: 'expected a string' }).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: 'expected a name of letters, digits, ".", "_" and "-"' }),
    description: z.string({ error: 'expected a string (one line)' }).min(1, { error: 'expected a non-empty description' }),
    costs: CostsSchema,
    idleWakeup: IdleWakeupSchema,
    notes: z.array(z.string({ error: 'expected a string' }), { error: 'expected an array of strings' }).optional(),
  },
  { error: 'expected an object {"name", "description", "costs", "idleWakeup"}' },
);

function issueLine(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') {
    const inCosts = issue.path.length === 1 && issue.path[0] === 'costs';
    const known = inCosts
      ? COST_NAMES.join(', ')
      : issue.path.length === 0
        ? 'name, description, costs, idleWakeup, notes'
        : issue.path.length === 1 && issue.path[0] === 'idleWakeup'
          ? 'distribution, medianNs, sigma, minIdleNs'
          : issue.path[1] === 'sigma'
            ? 'value, kind, source, rows'
            : 'ns, kind, source, rows';
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
  const data = parseJsonText(text, `profile ${nameOrPath}`);
  const r = ProfileSchema.safeParse(data);
  if (!r.success) throw new RangeError(`profile ${nameOrPath}: ${issueLine(r.error.issues[0])}`);
  const p = r.data;
  if (shipped && p.name !== nameOrPath) {
    throw new RangeError(`profile ${nameOrPath}: name: expected ${JSON.stringify(nameOrPath)} (the file's name), got ${JSON.stringify(p.name)}`);
  }
  const out: CostProfile = { name: p.name, description: p.description, costs: p.costs, idleWakeup: p.idleWakeup, file };
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

/** The profile's idle wake-up distribution as plain numbers, for MachineConfig.idleWakeup and results.json. */
export function profileIdleWakeup(p: CostProfile): IdleWakeup {
  const w = p.idleWakeup;
  return { distribution: w.distribution, medianNs: w.medianNs.ns, sigma: w.sigma.value, minIdleNs: w.minIdleNs.ns };
}

/** Everything a run's machine charges for the profile. */
export function profileMachineCosts(p: CostProfile): MachineCosts {
  return { costs: profileCosts(p), idleWakeup: profileIdleWakeup(p) };
}

/** One value of a profile, by the name the cost table gives it (a cost, or idleWakeup.<parameter>). */
export interface ProfileValue extends Provenance {
  name: string;
  value: number;
  /** ns, or '' for a plain number (sigma). */
  unit: 'ns' | '';
}

/** Every value of the profile, in the cost table's order: the costs, then the idle wake-up parameters. */
export function profileValues(p: CostProfile): ProfileValue[] {
  const one = (name: string, value: number, unit: 'ns' | '', v: Provenance): ProfileValue => ({
    name,
    value,
    unit,
    kind: v.kind,
    source: v.source,
    ...(v.rows === undefined ? {} : { rows: v.rows }),
  });
  const w = p.idleWakeup;
  return [
    ...COST_NAMES.map((n) => one(n, p.costs[n].ns, 'ns', p.costs[n])),
    one('idleWakeup.medianNs', w.medianNs.ns, 'ns', w.medianNs),
    one('idleWakeup.sigma', w.sigma.value, '', w.sigma),
    one('idleWakeup.minIdleNs', w.minIdleNs.ns, 'ns', w.minIdleNs),
  ];
}

/** A value's kind, with the rows of a fitted one: `fitted to empty-nobg-sync`. */
export function describeKind(v: Provenance): string {
  return v.kind === 'fitted' ? `fitted to ${v.rows!.join(', ')}` : v.kind;
}

/** The profile as a table: one line per value with its kind, then its meaning and source (for `daxlab list --profile`). */
export function describeProfile(p: CostProfile): string {
  const values = profileValues(p);
  const w = Math.max(...values.map((v) => v.name.length));
  const lines = [`${p.name}: ${p.description}`, `  idle wake-ups: ${p.idleWakeup.distribution} distribution (src/cost/idle_wakeup.ts)`];
  for (const v of values) {
    const meaning = valueMeaning(v.name);
    lines.push(`  ${v.name.padEnd(w)} ${`${v.value}${v.unit === '' ? '' : ' ns'}`.padStart(11)}  ${describeKind(v)}`);
    lines.push(`  ${''.padEnd(w)} ${''.padStart(11)}  ${meaning}`);
    lines.push(`  ${''.padEnd(w)} ${''.padStart(11)}  source: ${v.source}`);
  }
  if (p.notes !== undefined) for (const n of p.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}

/** What a value (by its cost-table name) is the cost of. */
export function valueMeaning(name: string): string {
  return Object.hasOwn(COST_MEANINGS, name) ? COST_MEANINGS[name as CostName] : IDLE_WAKEUP_MEANINGS[name.slice('idleWakeup.'.length) as IdleWakeupParam];
}
