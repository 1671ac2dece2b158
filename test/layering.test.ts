// DESIGN.md's one-way data flow: the lab and the model it runs never import crashtest, which
// drives them (crashtest gives the CPUs its hooks by module URL: src/lab/cpu_hooks.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = resolve(import.meta.dirname, '../src');
const BELOW_CRASH = ['lab', 'machine', 'sync', 'mm', 'dax', 'fs', 'journal', 'pmem'];

/** Every relative module specifier a file names in an import or export (type-only ones too). */
function specifiers(file: string): string[] {
  const s = readFileSync(file, 'utf8');
  return [...s.matchAll(/^\s*(?:import|export)\b[^'"]*?from\s*['"](\.[^'"]+)['"]|^\s*import\s*['"](\.[^'"]+)['"]|\bimport\(\s*['"](\.[^'"]+)['"]/gms)].map((m) => m[1] ?? m[2] ?? m[3]);
}

/** Each import from a file under the folders `dirs` into a folder `into` accepts, as `file -> target` (paths under src/). */
function importsInto(dirs: readonly string[], into: (target: string) => boolean): string[] {
  const found: string[] = [];
  for (const dir of dirs) {
    for (const f of readdirSync(join(SRC, dir), { recursive: true }) as string[]) {
      if (!f.endsWith('.ts')) continue;
      const file = join(SRC, dir, f);
      for (const spec of specifiers(file)) {
        const target = relative(SRC, resolve(dirname(file), spec));
        if (into(target)) found.push(`${relative(SRC, file)} -> ${target}`);
      }
    }
  }
  return found;
}

describe('layering', () => {
  it('no file under src/lab or the model layers imports src/crash', () => {
    expect(importsInto(BELOW_CRASH, (t) => t.startsWith('crash/'))).toEqual([]);
  });

  it('src/measure, the results every tool reads and writes, imports none of the tools built on it', () => {
    const TOOLS = ['lab/', 'crash/', 'tune/', 'probe/', 'calibrate/', 'cli/', 'schema/'];
    expect(importsInto(['measure'], (t) => TOOLS.some((tool) => t.startsWith(tool)))).toEqual([]);
  });

  it('only src/cli imports src/cli: the CLI drives the rest, nothing reaches up into it', () => {
    const others = readdirSync(SRC).filter((dir) => dir !== 'cli' && /^[a-z_]+$/.test(dir));
    expect(importsInto(others, (t) => t.startsWith('cli/'))).toEqual([]);
  });
});
