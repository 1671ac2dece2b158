import { describe, expect, it } from 'vitest';
import { PAGE_SIZE, VMA, MM } from '../src/machine/layout.js';
import { FsError, type Errno } from '../src/fs/errno.js';
import { FS_MAX_BYTES } from '../src/fs/ondisk.js';
import { vfs_create } from '../src/fs/inode.js';
import { checkIndex } from '../src/dax/radix_tree_check.js';
import { mmap, munmap, MAX_MAPPING_BYTES } from '../src/mm/mmap.js';
import {
  MAP_ANONYMOUS,
  MAP_DENYWRITE,
  MAP_EXECUTABLE,
  MAP_FIXED,
  MAP_FIXED_NOREPLACE,
  MAP_GROWSDOWN,
  MAP_HUGETLB,
  MAP_HUGE_2MB,
  MAP_LOCKED,
  MAP_NONBLOCK,
  MAP_NORESERVE,
  MAP_POPULATE,
  MAP_PRIVATE,
  MAP_SHARED,
  MAP_SHARED_VALIDATE,
  MAP_STACK,
  MAP_SYNC,
  MS_ASYNC,
  MS_INVALIDATE,
  MS_SYNC,
  O_RDONLY,
  O_WRONLY,
  PROT_EXEC,
  PROT_NONE,
  PROT_READ,
  PROT_WRITE,
  VM_SHARED,
  VM_SYNC,
  VM_WRITE,
} from '../src/mm/mman.js';
import { checkMm } from '../src/mm/check.js';
import { pte_present } from '../src/mm/pte.js';
import { makeFile, setupMm, type MmSetup } from './workers/mm_support.js';
import { createMachine } from '../src/machine/machine.js';

const RW = PROT_READ | PROT_WRITE;
const LEN = 16 * PAGE_SIZE;

function env(config = {}) {
  const s = setupMm('ext4', config);
  const ino = makeFile(s.fs, 16, 'written');
  return { ...s, ino };
}

function errno(f: () => unknown): Errno {
  try {
    f();
  } catch (e) {
    if (e instanceof FsError) return e.code;
    throw e;
  }
  throw new Error('expected an FsError');
}

const sound = (s: MmSetup) => [...checkIndex(s.machine), ...checkMm(s.mm)];

describe('mmap validation', () => {
  // [what, prot, flags, offset, length, options, expected errno]
  const cases: [string, number, number, number, number, object, Errno][] = [
    ['an offset that is not page-aligned', RW, MAP_SHARED, 100, LEN, {}, 'EINVAL'],
    ['a length of 0', RW, MAP_SHARED, 0, 0, {}, 'EINVAL'],
    ['no mapping type', RW, 0, 0, LEN, {}, 'EINVAL'],
    ['mapping type 0x04', RW, 0x04, 0, LEN, {}, 'EINVAL'],
    ['mapping type 0x0f', RW, 0x0f, 0, LEN, {}, 'EINVAL'],
    ['MAP_GROWSDOWN on a file', RW, MAP_SHARED | MAP_GROWSDOWN, 0, LEN, {}, 'EINVAL'],
    ['MAP_HUGETLB on a file that is not hugetlbfs', RW, MAP_SHARED | MAP_HUGETLB, 0, LEN, {}, 'EINVAL'],
    ['a negative offset', RW, MAP_SHARED, -PAGE_SIZE, LEN, {}, 'EINVAL'],
    ['a fractional length', RW, MAP_SHARED, 0, 1.5, {}, 'EINVAL'],
    ['flags past 32 bits', RW, 2 ** 32 + 1, 0, LEN, {}, 'EINVAL'],
    ['a range past the largest file', RW, MAP_SHARED, FS_MAX_BYTES - PAGE_SIZE, 2 * PAGE_SIZE, {}, 'EOVERFLOW'],
    ['MAP_SHARED_VALIDATE with an unknown flag (1 << 10)', RW, MAP_SHARED_VALIDATE | (1 << 10), 0, LEN, {}, 'EOPNOTSUPP'],
    ['MAP_SHARED_VALIDATE with MAP_FIXED_NOREPLACE (not a legacy flag)', RW, MAP_SHARED_VALIDATE | MAP_FIXED_NOREPLACE, 0, LEN, {}, 'EOPNOTSUPP'],
    ['MAP_SHARED_VALIDATE with bit 31', RW, (MAP_SHARED_VALIDATE | 0x80000000) >>> 0, 0, LEN, {}, 'EOPNOTSUPP'],
    ['MAP_SYNC on a file that is not DAX', RW, MAP_SHARED_VALIDATE | MAP_SYNC, 0, LEN, { dax: false }, 'EOPNOTSUPP'],
    ['MAP_PRIVATE | MAP_SYNC on a file that is not DAX (VM_SYNC is set, ->mmap refuses it)', PROT_READ, MAP_PRIVATE | MAP_SYNC, 0, LEN, { dax: false }, 'EOPNOTSUPP'],
    ['MAP_ANONYMOUS (the lab has no anonymous memory)', RW, MAP_SHARED | MAP_ANONYMOUS, 0, LEN, {}, 'EOPNOTSUPP'],
    ['MAP_PRIVATE with PROT_WRITE (copy-on-write is not modelled)', RW, MAP_PRIVATE, 0, LEN, {}, 'EOPNOTSUPP'],
    ['PROT_WRITE on a shared mapping of a file opened O_RDONLY', RW, MAP_SHARED, 0, LEN, { openFlags: O_RDONLY }, 'EACCES'],
    ['PROT_WRITE with MAP_SHARED_VALIDATE of a file opened O_RDONLY', RW, MAP_SHARED_VALIDATE, 0, LEN, { openFlags: O_RDONLY }, 'EACCES'],
    ['any mapping of a file opened O_WRONLY', PROT_WRITE, MAP_SHARED, 0, LEN, { openFlags: O_WRONLY }, 'EACCES'],
    ['a private mapping of a file opened O_WRONLY', PROT_READ, MAP_PRIVATE, 0, LEN, { openFlags: O_WRONLY }, 'EACCES'],
    ['openFlags 7 (not O_RDONLY, O_WRONLY or O_RDWR)', PROT_READ, MAP_SHARED, 0, LEN, { openFlags: 7 }, 'EINVAL'],
    ['openFlags -1', PROT_READ, MAP_SHARED, 0, LEN, { openFlags: -1 }, 'EINVAL'],
    ['openFlags 1.5', PROT_READ, MAP_SHARED, 0, LEN, { openFlags: 1.5 }, 'EINVAL'],
    ['a mapping larger than the lab maps at once', RW, MAP_SHARED, 0, MAX_MAPPING_BYTES + 1, {}, 'ENOMEM'],
    ['more pages than the PTE pool holds', RW, MAP_SHARED, 0, (1 << 14) * PAGE_SIZE + 1, {}, 'ENOMEM'],
  ];

  it.each(cases)('%s', (_what, prot, flags, offset, length, opts, code) => {
    const s = env();
    expect(errno(() => mmap(s.mm, s.ino, length, prot, flags, offset, opts))).toBe(code);
    expect(s.machine.views.mmState[MM.mapCount]).toBe(0); // nothing was mapped
    expect(sound(s)).toEqual([]);
  });

  it('ENOENT for an inode that is not allocated, ENODEV for one without a mapping index', () => {
    const s = env({ mappings: 2 });
    expect(errno(() => mmap(s.mm, 5, LEN, RW, MAP_SHARED, 0))).toBe('ENOENT');
    expect(errno(() => mmap(s.mm, 1000, LEN, RW, MAP_SHARED, 0))).toBe('ENOENT');
    vfs_create(s.fs);
    const third = vfs_create(s.fs);
    expect(errno(() => mmap(s.mm, third, LEN, RW, MAP_SHARED, 0))).toBe('ENODEV');
  });

  it('ENOMEM when every VMA slot is taken, and the slot comes back after munmap', () => {
    const s = env({ vmas: 2 });
    const a = mmap(s.mm, s.ino, LEN, RW, MAP_SHARED, 0);
    mmap(s.mm, s.ino, LEN, RW, MAP_SHARED, 0);
    expect(errno(() => mmap(s.mm, s.ino, LEN, RW, MAP_SHARED, 0))).toBe('ENOMEM');
    munmap(a);
    expect(mmap(s.mm, s.ino, LEN, RW, MAP_SHARED, 0).id).toBe(a.id);
    expect(sound(s)).toEqual([]);
  });

  it('ENOMEM when the PTE pool has no gap large enough, first-fit reuse of freed ranges', () => {
    const s = env({ ptePages: 1024 });
    const a = mmap(s.mm, s.ino, 400 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const b = mmap(s.mm, s.ino, 400 * PAGE_SIZE, RW, MAP_SHARED, 0);
    expect(errno(() => mmap(s.mm, s.ino, 300 * PAGE_SIZE, RW, MAP_SHARED, 0))).toBe('ENOMEM');
    munmap(a);
    const c = mmap(s.mm, s.ino, 300 * PAGE_SIZE, RW, MAP_SHARED, 0);
    const base = (v: { id: number }) => s.machine.views.mmVmas[v.id * VMA.stride + VMA.pteBase];
    expect([base(c), base(b)]).toEqual([0, 400]);
    expect(sound(s)).toEqual([]);
  });

  it('plain MAP_SHARED silently drops flags it does not know, MAP_SYNC among them', () => {
    // The documented behaviour (issue 6, mmap(2)); the kernel's do_mmap() sets VM_SYNC here,
    // and ->mmap then refuses a non-DAX file (src/mm/mmap.ts's header).
    const s = env();
    for (const extra of [MAP_SYNC, 1 << 10, MAP_FIXED_NOREPLACE, 0x80000000]) {
      const v = mmap(s.mm, s.ino, LEN, RW, (MAP_SHARED | extra) >>> 0, 0, { dax: false });
      expect(v.flags & VM_SYNC).toBe(0);
      munmap(v);
    }
  });

  it('MAP_SHARED_VALIDATE accepts MAP_SYNC on a DAX file and every legacy flag', () => {
    const s = env();
    const sync = mmap(s.mm, s.ino, LEN, RW, MAP_SHARED_VALIDATE | MAP_SYNC, 0);
    expect(sync.sync).toBe(true);
    expect(sync.flags & (VM_SHARED | VM_WRITE)).toBe(VM_SHARED | VM_WRITE);
    const legacy = MAP_FIXED | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | MAP_NONBLOCK | MAP_STACK | MAP_HUGE_2MB;
    const v = mmap(s.mm, s.ino, LEN, RW | PROT_EXEC, MAP_SHARED_VALIDATE | legacy, 0);
    expect(v.sync).toBe(false);
    expect(sound(s)).toEqual([]);
  });

  it('MAP_PRIVATE validates nothing; MAP_SYNC there sets VM_SYNC on a DAX file and writes are not possible', () => {
    const s = env();
    const v = mmap(s.mm, s.ino, LEN, PROT_READ, MAP_PRIVATE | MAP_SYNC | (1 << 10), 0);
    expect(v.sync).toBe(true);
    expect(v.flags & VM_SHARED).toBe(0);
    expect(v.load(0, 2)).toEqual(new Uint8Array([0x11, 0x11]));
    expect(() => v.store(0, new Uint8Array(1))).toThrow(/SIGSEGV \(SEGV_ACCERR\)/);
  });

  it('a read-only file maps shared read-only without VM_SHARED: msync has nothing to do', () => {
    const s = env();
    const v = mmap(s.mm, s.ino, LEN, PROT_READ, MAP_SHARED, 0, { openFlags: O_RDONLY });
    expect(v.flags & VM_SHARED).toBe(0);
    v.msync(0, LEN);
  });

  it('rounds the length up to whole pages', () => {
    const s = env();
    const v = mmap(s.mm, s.ino, PAGE_SIZE + 1, RW, MAP_SHARED, 0);
    expect(v.length).toBe(2 * PAGE_SIZE);
    v.store(2 * PAGE_SIZE - 1, new Uint8Array([1]));
  });

  it('PROT_NONE maps nothing that can be touched', () => {
    const s = env();
    const v = mmap(s.mm, s.ino, LEN, PROT_NONE, MAP_SHARED, 0);
    expect(() => v.load(0, 1)).toThrow(/SIGSEGV \(SEGV_ACCERR\)/);
    expect(() => v.store(0, new Uint8Array(1))).toThrow(/SIGSEGV \(SEGV_ACCERR\)/);
    expect(sound(s)).toEqual([]);
  });

  it('MAP_POPULATE read-faults every page below i_size', () => {
    const s = setupMm('ext4');
    const ino = makeFile(s.fs, 6, 'written');
    const v = mmap(s.mm, ino, LEN, RW, MAP_SHARED | MAP_POPULATE, 0);
    for (let p = 0; p < 16; p++) expect(pte_present(v.pte(p))).toBe(p < 6);
    expect(s.mm.counters.readFaults).toBe(6);
  });
});

describe('msync validation', () => {
  it.each([
    ['unknown flags', 0, LEN, 8, 'EINVAL'],
    ['MS_ASYNC with MS_SYNC', 0, LEN, MS_ASYNC | MS_SYNC, 'EINVAL'],
    ['an offset that is not page-aligned', 10, LEN, MS_SYNC, 'EINVAL'],
    ['a negative length', 0, -1, MS_SYNC, 'EINVAL'],
    ['a fractional length', 0, 1.5, MS_SYNC, 'EINVAL'],
    ['a fractional offset', 0.5, LEN, MS_SYNC, 'EINVAL'],
    ['a negative offset', -PAGE_SIZE, LEN, MS_SYNC, 'EINVAL'],
    ['a range past the mapping', 0, LEN + 1, MS_SYNC, 'ENOMEM'],
    ['an offset past the mapping', LEN, PAGE_SIZE, MS_SYNC, 'ENOMEM'],
  ] as const)('%s: %s', (_what, offset, length, flags, code) => {
    const s = env();
    const v = mmap(s.mm, s.ino, LEN, RW, MAP_SHARED, 0);
    v.store(PAGE_SIZE, new Uint8Array(64).fill(1));
    expect(errno(() => v.msync(offset, length, flags))).toBe(code);
    expect(sound(s)).toEqual([]);
  });

  it('syncs what is mapped before ENOMEM for the rest, accepts MS_ASYNC and MS_INVALIDATE, and is ENOMEM after munmap', () => {
    const s = env();
    const v = mmap(s.mm, s.ino, LEN, RW, MAP_SHARED, 0);
    v.store(0, new Uint8Array(64).fill(1));
    expect(errno(() => v.msync(0, 2 * LEN))).toBe('ENOMEM');
    expect(s.dev.dirtyLines(0, s.dev.size)).toBe(0);
    v.msync(0, LEN, MS_ASYNC | MS_INVALIDATE);
    v.msync(0, 0);
    munmap(v);
    expect(errno(() => v.msync(0, LEN))).toBe('ENOMEM');
    v.msync(0, 0); // an empty range succeeds whatever is mapped, as in the kernel
  });
});

describe('configuration', () => {
  it('rejects VMA and PTE pool sizes outside their limits', () => {
    expect(() => createMachine({ vmas: 0 })).toThrow(/vmas: expected an integer from 1 to 65536/);
    expect(() => createMachine({ ptePages: 100 })).toThrow(/ptePages/);
    expect(() => createMachine({ ptePages: 2 ** 25 })).toThrow(/ptePages/);
  });
});
