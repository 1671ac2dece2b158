// From a workload file to the configurations a run measures: --set overrides first, then
// each named configuration's overrides, then each point of the sweep's cartesian product.
// Every configuration is validated on its own, so a sweep value that breaks a rule is
// reported with the configuration it makes.

import { readFileSync, existsSync, readdirSync, statSync } from 'node:fs';
import { WorkloadSchema, type Workload } from './schema.js';
import { parseOrThrow, WorkloadError } from './errors.js';
import { checkWorkload } from './check.js';
import { parsePath, setPath } from './paths.js';
import { packageRoot } from '../util/package_root.js';
import { tooDeep } from '../util/depth.js';

export interface Configuration {
  name: string;
  /** The overrides that make it: named configuration's set, then axis values. */
  params: Record<string, unknown>;
  workload: Workload;
}

export interface ExpandedWorkload {
  /** The validated workload with --set applied (its configs and sweep included). */
  base: Workload;
  configs: Configuration[];
  warnings: string[];
}

/** Shipped workloads live in workloads/ at the package root. */
export const WORKLOADS_DIR = new URL('workloads/', packageRoot());

export function listShippedWorkloads(): { name: string; description: string }[] {
  if (!existsSync(WORKLOADS_DIR)) return [];
  return readdirSync(WORKLOADS_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const raw = JSON.parse(readFileSync(new URL(f, WORKLOADS_DIR), 'utf8')) as { name?: string; description?: string };
      return { name: raw.name ?? f.replace(/\.json$/, ''), description: raw.description ?? '' };
    });
}

/** The most configurations one run may expand to (named configurations times sweep points). */
export const MAX_CONFIGURATIONS = 10_000;
/** The largest workload file read: one is a few KiB; a device or a FIFO given by mistake is not read. */
const MAX_WORKLOAD_BYTES = 1 << 20;

/** Reads a workload file, or a shipped workload by name; returns its raw JSON. */
export function readWorkload(nameOrPath: string): { raw: Record<string, unknown>; source: string } {
  const shipped = new URL(`${nameOrPath}.json`, WORKLOADS_DIR);
  const exists = existsSync(nameOrPath);
  if (exists && !statSync(nameOrPath).isFile() && !statSync(nameOrPath).isDirectory()) {
    throw new WorkloadError(`workload: ${nameOrPath} is not a regular file (a device, FIFO or socket is not read)`);
  }
  const isFile = exists && statSync(nameOrPath).isFile();
  const path = isFile ? nameOrPath : /^[A-Za-z0-9._-]+$/.test(nameOrPath) && existsSync(shipped) ? shipped : null;
  if (path === null) {
    const names = listShippedWorkloads().map((w) => w.name);
    throw new WorkloadError(`workload: no file ${JSON.stringify(nameOrPath)} and no shipped workload of that name (shipped: ${names.join(', ') || 'none'})`);
  }
  const source = typeof path === 'string' ? path : path.pathname;
  const size = statSync(path).size;
  if (size > MAX_WORKLOAD_BYTES) throw new WorkloadError(`${source}: ${size} bytes; a workload file holds at most ${MAX_WORKLOAD_BYTES} bytes`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new WorkloadError(`${source}: not valid JSON: ${(e as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new WorkloadError(`${source}: expected a JSON object`);
  return { raw: raw as Record<string, unknown>, source };
}

/** Deeper than this is no workload (they nest five levels or so), and would overflow the stack of what walks it. */
const MAX_DEPTH = 64;

/** Validates and expands; `sets` are --set path=value pairs applied before anything else. */
export function expandWorkload(raw: Record<string, unknown>, sets: { path: string; value: unknown }[] = [], where = 'workload'): ExpandedWorkload {
  const warnings: string[] = [];
  const deep = tooDeep(raw, MAX_DEPTH);
  if (deep !== null) throw new WorkloadError(`${where}: ${deep}: nested more than ${MAX_DEPTH} levels deep; a workload needs a handful`);
  for (const s of sets) {
    if (tooDeep(s.value, MAX_DEPTH) !== null) throw new WorkloadError(`--set ${s.path}: the value is nested more than ${MAX_DEPTH} levels deep`);
  }
  const withSets = structuredClone(raw);
  const sweepRaw = (withSets.sweep ?? {}) as Record<string, unknown>;
  for (const s of sets) {
    if (typeof sweepRaw === 'object' && sweepRaw !== null && s.path in sweepRaw) {
      delete sweepRaw[s.path];
      warnings.push(`--set ${s.path} pins a sweep axis: the axis is dropped`);
    }
    setPath(withSets, s.path, s.value);
  }
  const base = parseOrThrow(WorkloadSchema, withSets, where);
  const axes = Object.entries(base.sweep ?? {});
  for (const [path] of axes) parsePath(path);
  const named = base.configs ?? [{ name: '', set: {} }];
  // Counted before they are made: a large product would exhaust the heap before the first ran.
  const count = axes.reduce((n, [, values]) => n * values.length, named.length);
  if (count > MAX_CONFIGURATIONS) {
    throw new WorkloadError(
      `${where}: sweep: ${count.toLocaleString('en-US')} configurations (${named.length} named x ${axes.map(([p, v]) => `${v.length} ${p}`).join(' x ')}); ` +
        `at most ${MAX_CONFIGURATIONS.toLocaleString('en-US')}: split the sweep into several workloads`,
    );
  }
  const configs: Configuration[] = [];
  const seen = new Set<string>();
  for (const nc of named) {
    for (const point of cartesian(axes)) {
      const params: Record<string, unknown> = { ...nc.set, ...Object.fromEntries(point) };
      const name = configName(base.name, nc.name, point);
      if (seen.has(name)) throw new WorkloadError(`${where}: configs: two configurations are both named ${JSON.stringify(name)}`);
      seen.add(name);
      const one = structuredClone(withSets);
      delete one.configs;
      delete one.sweep;
      for (const [path, value] of Object.entries(params)) setPath(one, path, value);
      const w = parseOrThrow(WorkloadSchema, one, `${where}: configuration ${name}`);
      checkWorkload(w, `${where}: configuration ${name}`);
      configs.push({ name, params, workload: w });
    }
  }
  return { base, configs, warnings };
}

function cartesian(axes: [string, unknown[]][]): [string, unknown][][] {
  let points: [string, unknown][][] = [[]];
  for (const [path, values] of axes) points = points.flatMap((p) => values.map((v) => [...p, [path, v] as [string, unknown]]));
  return points;
}

function configName(workload: string, named: string, point: [string, unknown][]): string {
  const axes = point.map(([path, v]) => `${path}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(',');
  if (named && axes) return `${named},${axes}`;
  return named || axes || workload;
}

/** The configurations shard `index` of `count` runs (1-based): every count-th, starting at index - 1. */
export function shardConfigs<T>(configs: T[], index: number, count: number): T[] {
  return configs.filter((_, i) => i % count === index - 1);
}
