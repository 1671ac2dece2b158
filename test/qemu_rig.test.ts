// The QEMU rig's parts that run without QEMU: probe-qemu.sh refuses bad options before it
// installs or boots anything, and the guest's C programs (statx_dax.c, daxprobe --check) build static and tell a
// filesystem without DAX (this machine's temporary folder) for what it is.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const rig = path.join(repo, 'scripts', 'qemu');
const hasCc = spawnSync('cc', ['--version'], { stdio: 'ignore' }).status === 0;

function script(args: string[]) {
  // INIT_CWD is npm's; the script returns to it, so it must not point at a stale folder here.
  const env = { ...process.env, INIT_CWD: repo };
  return spawnSync('bash', [path.join(rig, 'probe-qemu.sh'), ...args], { encoding: 'utf8', env });
}

/** Builds a C program of the rig (or the path given, from the repository) as the rig does: static. */
function buildStatic(source: string, dir: string): string {
  const out = path.join(dir, path.basename(source, '.c'));
  const r = spawnSync('cc', ['-O2', '-static', '-o', out, source.includes('/') ? path.join(repo, source) : path.join(rig, source)], { encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return out;
}

describe('probe-qemu.sh options', () => {
  it.each([
    [['--bogus'], 'probe:qemu: unknown option --bogus (accepted: --bin --args --check --out --timeout --mount-opts --mkfs-opts --allow-non-dax --append --nice --cache)'],
    [[], 'probe:qemu: --bin FILE (a static executable) or --check is required'],
    [['--bin'], 'probe:qemu: --bin needs a value'],
    [['--check', '--timeout', '10m'], "probe:qemu: --timeout must be a whole number of seconds, got '10m'"],
    [['--check', '--nice', '-30'], "probe:qemu: --nice must be an integer from -20 to 19, got '-30'"],
    [['--check', '--bin', '/bin/sh'], 'probe:qemu: --check and --bin exclude each other'],
    [['--check', '--args', '3'], 'probe:qemu: --check takes no --args (it runs daxprobe --dir $DAXLAB_DIR --check)'],
    [['--bin', '/nonexistent/daxprobe'], 'probe:qemu: --bin: /nonexistent/daxprobe is not an executable file'],
  ])('%j: one line naming the option, exit 2', (args, message) => {
    const r = script(args);
    expect(r.stderr).toBe(`${message}\n`);
    expect(r.stdout).toBe('');
    expect(r.status).toBe(2);
  });

  it('refuses a dynamically linked --bin: the guest has no C library for it', () => {
    const r = script(['--bin', '/bin/sh']);
    expect(r.stderr).toBe('probe:qemu: --bin: /bin/sh is dynamically linked; build it with cc -static (the guest has no C library)\n');
    expect(r.status).toBe(2);
  });
});

describe.skipIf(!hasCc)("the guest's C programs, on a filesystem without DAX", () => {
  it('statx_dax says not-dax and exits 1', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qemu-rig-'));
    try {
      const bin = buildStatic('statx_dax.c', dir);
      const file = path.join(dir, 'f');
      writeFileSync(file, 'x');
      const r = spawnSync(bin, [file], { encoding: 'utf8' });
      expect(r.stdout).toBe(`${file} not-dax\n`);
      expect(r.status).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('daxprobe --check (the rig\'s --check) finds MAP_SYNC refused (EOPNOTSUPP) and fails, leaving no file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qemu-rig-'));
    try {
      const bin = buildStatic('native/daxprobe.c', dir);
      const data = path.join(dir, 'mnt');
      spawnSync('mkdir', [data]);
      const r = spawnSync(bin, ['--dir', data, '--check'], { encoding: 'utf8' });
      const lines = r.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^statx STATX_ATTR_DAX: (no|the kernel does not say)$/);
      for (const prep of ['prealloc', 'empty', 'written']) {
        expect(lines).toContain(`${prep} map_sync error=mmap(MAP_SHARED_VALIDATE | MAP_SYNC): EOPNOTSUPP (Operation not supported): the filesystem does not map this file with DAX`);
        expect(lines.some((l) => new RegExp(`^${prep} map_shared repeat=2 faults=512 rusage=\\d+ mean_ns=\\d+ p50_ns=\\d+$`).test(l))).toBe(true);
      }
      expect(lines.at(-1)).toBe('daxprobe --check: FAILED');
      expect(r.status).toBe(1);
      // It removes its private folder, also after a refused mapping.
      expect(spawnSync('ls', ['-A', data], { encoding: 'utf8' }).stdout).toBe('');
      // --check is alone: not with --quick or --out.
      expect(spawnSync(bin, ['--dir', data, '--check', '--quick'], { encoding: 'utf8' }).status).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
