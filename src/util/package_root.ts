// The package's root folder (where package.json, workloads/ and profiles live), found by
// walking up from this module: the same answer from dist/ (the CLI, workers) and from
// src/ (tests that load the TypeScript directly).

import { existsSync, readFileSync } from 'node:fs';

let root: URL | null = null;

export function packageRoot(): URL {
  if (root !== null) return root;
  for (let dir = new URL('./', import.meta.url); ; dir = new URL('../', dir)) {
    const pkg = new URL('package.json', dir);
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'daxlab') return (root = dir);
    if (dir.pathname === '/') throw new Error(`daxlab: no package.json above ${import.meta.url}`);
  }
}
