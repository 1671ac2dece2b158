// How deep a parsed JSON value nests, found without recursion: a file of 100,000 nested
// brackets parses (JSON.parse does not recurse on the stack) but would overflow it in every
// function that walks the value after (structuredClone, the schema), with no field named.

import { formatPath } from './format_path.js';

/** The path of the first node nested deeper than `max` levels, or null when none is. */
export function tooDeep(value: unknown, max: number): string | null {
  const stack: { v: unknown; path: (string | number)[] }[] = [{ v: value, path: [] }];
  while (stack.length > 0) {
    const { v, path } = stack.pop()!;
    if (v === null || typeof v !== 'object') continue;
    if (path.length >= max) return formatPath(path);
    const entries: [string | number, unknown][] = Array.isArray(v) ? v.map((x, i) => [i, x]) : Object.entries(v);
    for (const [k, x] of entries) stack.push({ v: x, path: [...path, k] });
  }
  return null;
}
