// Builds the probe's native helper (native/daxprobe.c) into dist/native/daxprobe, as the last
// step of `npm run build` and so of `npm ci`'s prepare. Where there is no C compiler, or the
// system is not Linux (the helper measures Linux's DAX paths), the build goes on without it
// and says so; `daxlab probe` then says what is missing.
//
//   node native/build.mjs [--force] [--static] [--out <file>]
//
// --static links it statically, for a VM guest without the build's libc (the QEMU rig).
// Without --force an up-to-date helper is left alone.

import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const src = path.join(root, 'native', 'daxprobe.c');
const args = process.argv.slice(2);
const force = args.includes('--force');
const linkStatic = args.includes('--static');
const outAt = args.indexOf('--out');
const out = outAt >= 0 ? path.resolve(args[outAt + 1] ?? '') : path.join(root, 'dist', 'native', linkStatic ? 'daxprobe-static' : 'daxprobe');
const cc = process.env.CC || 'cc';

function note(text) {
  process.stderr.write(`daxlab: ${text}\n`);
}

if (process.platform !== 'linux') {
  note(`the probe helper measures Linux kernels; not built on ${process.platform} (daxlab probe will say so)`);
  process.exit(0);
}
const mtime = (f) => {
  try {
    return statSync(f).mtimeMs;
  } catch {
    return -1;
  }
};
if (!force && mtime(out) >= mtime(src) && mtime(out) >= mtime(fileURLToPath(import.meta.url))) process.exit(0);

const probe = spawnSync(cc, ['--version'], { stdio: 'ignore' });
if (probe.error !== undefined) {
  note(`no C compiler found (${cc}): the probe helper is not built; install gcc or clang, then run npm run build:probe`);
  process.exit(0);
}
mkdirSync(path.dirname(out), { recursive: true });
const flags = ['-O2', '-Wall', ...(linkStatic ? ['-static'] : []), '-o', out, src];
const r = spawnSync(cc, flags, { stdio: ['ignore', 'inherit', 'inherit'] });
if (r.status !== 0) {
  note(`the probe helper did not compile (${cc} ${flags.join(' ')}); daxlab probe will not run until it does (npm run build:probe)`);
  // A broken helper must not break the lab's install; a stale one must not be run instead.
  rmSync(out, { force: true });
  process.exit(0);
}
