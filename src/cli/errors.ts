// Exit codes and the one place that turns a user's mistake into a message.

import { UsageError } from '../util/usage_error.js';

export { UsageError };

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Errors that mean "bad input" rather than "the lab broke". */
export function isUsageError(err: unknown): err is Error {
  return err instanceof UsageError || err instanceof RangeError;
}
