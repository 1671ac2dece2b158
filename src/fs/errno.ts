// Typed errors named after the errno values the kernel returns, so a caller (and a test)
// matches on `code`, never on message text. Shared by fs/ and, later, mm/ (EOPNOTSUPP for
// MAP_SYNC validation).

export const ERRNOS = ['EINVAL', 'ENOSPC', 'EFBIG', 'ENOENT', 'EOPNOTSUPP', 'EIO', 'EROFS', 'EACCES', 'ENOMEM', 'ENODEV', 'EOVERFLOW'] as const;
export type Errno = (typeof ERRNOS)[number];

/** An operation rejected the way the kernel would reject it: `code` is the errno name. */
export class FsError extends Error {
  readonly code: Errno;

  constructor(code: Errno, message: string) {
    super(`${code}: ${message}`);
    this.name = 'FsError';
    this.code = code;
  }
}

/** Whether `e` is an FsError, optionally with a given code. */
export function isFsError(e: unknown, code?: Errno): e is FsError {
  return e instanceof FsError && (code === undefined || e.code === code);
}
