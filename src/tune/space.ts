// The policy space `daxlab tune` searches: per filesystem personality, the knobs a user can
// set (a mount option or an mkfs flag), the workload path each is set through, the values
// tried, and the kernel's default. The default candidate (every knob at its default) is what
// an unconfigured filesystem does; the recommendation's improvement is measured against it.

import type { FS_PERSONALITIES } from '../fs/ondisk.js';
import { UsageError } from '../util/usage_error.js';
import { parseSetValue } from '../workload/paths.js';

export type Personality = (typeof FS_PERSONALITIES)[number];

/** Where a knob is set: a mount option (mount -o) or a format-time flag (mkfs). */
export type KnobKind = 'mount' | 'mkfs';

export interface Knob {
  /** The workload path (as --set takes it). */
  path: string;
  kind: KnobKind;
  /** The value the kernel uses when the user sets nothing; null: the field is left unset (mkfs picks). */
  default: unknown;
  values: unknown[];
  /** How the user types it: the mount option or mkfs argument for one value, null when the value needs nothing typed. */
  spell: (v: unknown) => string | null;
}

const seconds = (ms: unknown) => `commit=${Number(ms) / 1000}`;

/**
 * ext4: commit= is whole seconds (1, the shortest; 5, JBD2_DEFAULT_MAX_COMMIT_AGE; 30, a
 * laptop's); the batch times are jbd2's (EXT4_DEF_MIN_BATCH_TIME 0, EXT4_DEF_MAX_BATCH_TIME
 * 15000 µs); the journal size is mke2fs's default (null), its smallest (4 MiB) or a large one.
 */
const EXT4: Knob[] = [
  { path: 'journal.commitIntervalMs', kind: 'mount', default: 5000, values: [1000, 5000, 30000], spell: seconds },
  { path: 'journal.minBatchTimeUs', kind: 'mount', default: 0, values: [0, 5000], spell: (v) => `min_batch_time=${String(v)}` },
  { path: 'journal.maxBatchTimeUs', kind: 'mount', default: 15000, values: [0, 15000], spell: (v) => `max_batch_time=${String(v)}` },
  { path: 'journal.asyncCommit', kind: 'mount', default: false, values: [false, true], spell: (v) => (v ? 'journal_async_commit' : null) },
  { path: 'journal.fastCommit', kind: 'mkfs', default: false, values: [false, true], spell: (v) => (v ? '-O fast_commit' : null) },
  { path: 'journal.size', kind: 'mkfs', default: null, values: [null, '4MiB', '32MiB'], spell: (v) => (v === null ? null : `-J size=${sizeMiB(v)}`) },
];

/** xfs: the log buffer size (logbsize=, 16k to 256k, default 32k) and count (logbufs=, 2 to 8, default 8). */
const XFS: Knob[] = [
  { path: 'log.logbsize', kind: 'mount', default: 32768, values: [16384, 32768, 65536, 131072, 262144], spell: (v) => `logbsize=${Number(v) / 1024}k` },
  { path: 'log.logbufs', kind: 'mount', default: 8, values: [2, 4, 8], spell: (v) => `logbufs=${String(v)}` },
];

export const POLICY_SPACES: Readonly<Partial<Record<Personality, readonly Knob[]>>> = { ext4: EXT4, xfs: XFS };

/** mke2fs's -J size= is in MiB. */
function sizeMiB(v: unknown): string {
  const m = /^(\d+)MiB$/.exec(String(v));
  return m ? m[1] : String(Math.round(Number(v) / (1 << 20)));
}

/** One policy: a value for every knob of the space, by path (null: left unset). */
export type Policy = Record<string, unknown>;

export interface Space {
  personality: Personality;
  knobs: Knob[];
}

export function spaceFor(personality: Personality): Space {
  const knobs = POLICY_SPACES[personality];
  if (knobs === undefined) {
    throw new UsageError(`fs.personality: ${personality} has no journal and no commit policy to tune; tune takes ${Object.keys(POLICY_SPACES).join(' or ')}`);
  }
  return { personality, knobs: knobs.map((k) => ({ ...k, values: [...k.values] })) };
}

/**
 * Applies --space FIELD=v1,v2 overrides: the values tried for a knob (one value pins it).
 * A field outside the personality's space exits 2 naming it and the fields there are.
 */
export function restrictSpace(space: Space, specs: readonly string[]): Space {
  const knobs = space.knobs.map((k) => ({ ...k }));
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const field = eq < 0 ? spec : spec.slice(0, eq);
    const knob = knobs.find((k) => k.path === field);
    if (knob === undefined) {
      throw new UsageError(`--space: ${JSON.stringify(field)} is no ${space.personality} policy field; the fields are ${knobs.map((k) => k.path).join(', ')}`);
    }
    if (eq < 0 || spec.slice(eq + 1).trim() === '') throw new UsageError(`--space: expected ${field}=value[,value...], got ${JSON.stringify(spec)}`);
    knob.values = [...new Set(spec.slice(eq + 1).split(',').map((t) => (t === 'default' ? knob.default : parseSetValue(t.trim()))))];
  }
  return { personality: space.personality, knobs };
}

export function defaultPolicy(space: Space): Policy {
  return Object.fromEntries(space.knobs.map((k) => [k.path, k.default]));
}

/** Every policy of the space, the default first (a grid); its size is spaceSize. */
export function enumerate(space: Space): Policy[] {
  let out: Policy[] = [{}];
  for (const k of space.knobs) out = out.flatMap((p) => k.values.map((v) => ({ ...p, [k.path]: v })));
  const d = policyKey(defaultPolicy(space));
  const i = out.findIndex((p) => policyKey(p) === d);
  if (i > 0) out.unshift(...out.splice(i, 1));
  return out;
}

export function spaceSize(space: Space): number {
  return space.knobs.reduce((n, k) => n * k.values.length, 1);
}

/** A stable identity of a policy (its values in the space's knob order). */
export function policyKey(p: Policy): string {
  return JSON.stringify(Object.keys(p).sort().map((k) => [k, p[k] ?? null]));
}

/** The knobs a policy sets away from their defaults, as path=value; empty for the default policy. */
export function policyChanges(space: Space, p: Policy): { path: string; value: unknown }[] {
  return space.knobs.filter((k) => (p[k.path] ?? null) !== (k.default ?? null)).map((k) => ({ path: k.path, value: p[k.path] ?? null }));
}

/** A short name of a policy: its changes from the default ("default" when none). */
export function policyLabel(space: Space, p: Policy): string {
  const ch = policyChanges(space, p);
  return ch.length === 0 ? 'default' : ch.map((c) => `${c.path.replace(/^(journal|log)\./, '')}=${c.value === null ? 'default' : String(c.value)}`).join(',');
}
