// The QEMU rig's parts that run without QEMU: probe-qemu.sh refuses bad options before it
// installs or boots anything, and the guest's two C programs build static and tell a
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

function buildStatic(source: string, dir: string): string {
  const out = path.join(dir, path.basename(source, '.c'));
  const r = spawnSync('cc', ['-O2', '-static', '-o', out, path.join(rig, source)], { encoding: 'utf8' });
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

  it('mapsync_check finds MAP_SYNC refused (EOPNOTSUPP) and fails', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'qemu-rig-'));
    try {
      const bin = buildStatic('mapsync_check.c', dir);
      const r = spawnSync(bin, ['1'], { encoding: 'utf8', cwd: dir });
      const lines = r.stdout.trim().split('\n');
      for (const prep of ['prealloc', 'empty', 'written']) {
        expect(lines).toContain(`${prep} map_sync error=Operation not supported`);
        expect(lines.some((l) => l.startsWith(`${prep} map_shared repeat=0 faults=512 `) && l.endsWith(' dax=0'))).toBe(true);
      }
      expect(lines.at(-1)).toBe('mapsync_check: FAILED');
      expect(r.status).toBe(1);
      // It removes its file, also after a refused mapping.
      expect(spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout.trim().split('\n').sort()).toEqual(['mapsync_check']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
