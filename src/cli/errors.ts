// Exit codes and the one place that turns a user's mistake into a message.

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A mistake in what the user asked for: printed as one line, exit code 2, no stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Errors that mean "bad input" rather than "the lab broke". */
export function isUsageError(err: unknown): err is Error {
  return err instanceof UsageError || err instanceof RangeError;
}
