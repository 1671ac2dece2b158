// schema/probe.schema.json is generated from the zod schema in schema.ts, never edited by
// hand; a test compares the committed file with probeSchemaText() so the two cannot drift.

import { renameSync, writeFileSync } from 'node:fs';
import { probeJsonSchema } from './schema.js';

/** The file's exact text: two-space JSON and a final newline, as results.schema.json. */
export function probeSchemaText(): string {
  return JSON.stringify(probeJsonSchema(), null, 2) + '\n';
}

/** Writes the schema file atomically. */
export function writeProbeSchema(path: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, probeSchemaText());
  renameSync(tmp, path);
}
