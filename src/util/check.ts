// Argument checks shared by every public constructor and function: a rejected call
// throws before it touches shared state, so nothing is half-changed.

/** Throws a RangeError naming `name` unless `value` is an integer in [min, max]. */
export function checkInt(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name}: expected an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** Throws a RangeError unless `value` is a non-negative multiple of `unit` (named `unitName`) no larger than max. */
export function checkMultiple(name: string, value: number, unit: number, unitName: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value % unit !== 0 || value < min || value > max) {
    throw new RangeError(
      `${name}: expected a multiple of ${unitName} from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}

/** Throws a RangeError unless `value` is one of `accepted`. */
export function checkOneOf<T extends string>(name: string, value: string, accepted: readonly T[]): T {
  if (!(accepted as readonly string[]).includes(value)) {
    throw new RangeError(`${name}: expected one of ${accepted.join(', ')}, got ${JSON.stringify(value)}`);
  }
  return value as T;
}
