// Byte sizes as users write them: 4096, 4k, 2MiB, 256M, 1GiB (binary units throughout).

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** Parses a size; throws a RangeError naming `name` and the accepted forms. */
export function parseSize(name: string, text: string | number): number {
  if (typeof text === 'number') return text;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new RangeError(`${name}: expected a size such as 4096, 4KiB, 2MiB or 1GiB, got ${JSON.stringify(text)}`);
  }
  const bytes = Number(m[1]) * unit;
  if (!Number.isInteger(bytes)) throw new RangeError(`${name}: ${JSON.stringify(text)} is not a whole number of bytes`);
  return bytes;
}

export function formatSize(bytes: number): string {
  for (const [unit, n] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= n) return `${+(bytes / n).toFixed(2)} ${unit}`;
  }
  return `${bytes} B`;
}
