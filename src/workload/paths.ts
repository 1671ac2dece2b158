// Parameter paths as users write them (`journal.commitIntervalMs`, `files[0].state`), for
// --set, named configurations and sweep axes. They address the workload's raw JSON, before
// defaults are filled, so setting a field of an absent object creates the object.

import { WorkloadError } from './errors.js';

type Key = string | number;

const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function parsePath(path: string): Key[] {
  const keys: Key[] = [];
  const re = /([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|(\.)/gy;
  let m: RegExpExecArray | null;
  let expectName = true;
  let last = 0;
  while ((m = re.exec(path)) !== null) {
    last = re.lastIndex;
    if (m[1] !== undefined) {
      if (!expectName) break;
      keys.push(m[1]);
      expectName = false;
    } else if (m[2] !== undefined) {
      if (keys.length === 0) break;
      keys.push(Number(m[2]));
    } else {
      if (expectName) break;
      expectName = true;
    }
  }
  if (last !== path.length || keys.length === 0 || expectName) {
    throw new WorkloadError(`${JSON.stringify(path)}: expected a parameter path such as journal.commitIntervalMs or files[0].state`);
  }
  // Setting one of these would reach the object prototype, or do nothing at all.
  const bad = keys.find((k) => typeof k === 'string' && PROTOTYPE_KEYS.has(k));
  if (bad !== undefined) throw new WorkloadError(`${JSON.stringify(path)}: ${JSON.stringify(bad)} is no parameter (it names an object's prototype)`);
  return keys;
}

/** Sets `path` in a plain JSON value (mutates it); arrays must already hold the index. */
export function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const keys = parsePath(path);
  let at: unknown = root;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i];
    const last = i === keys.length - 1;
    if (typeof k === 'number') {
      if (!Array.isArray(at)) throw new WorkloadError(`${path}: ${describe(keys, i)} is not a list`);
      if (k >= at.length) throw new WorkloadError(`${path}: ${describe(keys, i)} has ${at.length} entries, no index ${k}`);
      if (last) at[k] = value;
      else at = at[k];
    } else {
      if (at === null || typeof at !== 'object' || Array.isArray(at)) throw new WorkloadError(`${path}: ${describe(keys, i)} is not an object`);
      const o = at as Record<string, unknown>;
      if (last) o[k] = value;
      else {
        if (o[k] === undefined) o[k] = typeof keys[i + 1] === 'number' ? [] : {};
        at = o[k];
      }
    }
  }
}

function describe(keys: Key[], upTo: number): string {
  if (upTo === 0) return 'the workload';
  let s = '';
  for (const k of keys.slice(0, upTo)) s += typeof k === 'number' ? `[${k}]` : s === '' ? k : `.${k}`;
  return s;
}

/** A --set value: JSON when it parses (numbers, booleans, lists), else the text itself. */
export function parseSetValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Splits `k=v` (--set); the error names the flag. */
export function parseAssignment(text: string): { path: string; value: unknown } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new WorkloadError(`--set: expected path=value (for example journal.commitIntervalMs=1000), got ${JSON.stringify(text)}`);
  const path = text.slice(0, eq).trim();
  parsePath(path);
  return { path, value: parseSetValue(text.slice(eq + 1)) };
}
