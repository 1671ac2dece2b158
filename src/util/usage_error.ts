// The error for a mistake in what the user asked for, below the CLI so that libraries the CLI
// drives (tune, probe) can throw it without reaching up into src/cli (cli/errors.ts re-exports it).

/** A mistake in what the user asked for: printed as one line, exit code 2, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}
