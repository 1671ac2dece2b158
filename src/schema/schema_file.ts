// The JSON schemas under schema/ are generated from the zod schemas, never edited by hand; a
// test compares each committed file with its text here so the two cannot drift.

import { renameSync, writeFileSync } from 'node:fs';
import { resultsJsonSchema } from '../measure/results.js';
import { tuneJsonSchema } from '../tune/result.js';
import { probeJsonSchema } from '../probe/schema.js';

/** Two-space JSON and a final newline, so regenerating an unchanged schema changes no byte. */
const schemaText = (s: unknown): string => JSON.stringify(s, null, 2) + '\n';

/** schema/results.schema.json's exact text, from measure/results.ts. */
export const resultsSchemaText = (): string => schemaText(resultsJsonSchema());
/** schema/tune.schema.json's exact text, from tune/result.ts. */
export const tuneSchemaText = (): string => schemaText(tuneJsonSchema());
/** schema/probe.schema.json's exact text, from probe/schema.ts. */
export const probeSchemaText = (): string => schemaText(probeJsonSchema());

/** Every generated schema file under schema/, by name. */
export const SCHEMA_FILES: readonly { file: string; text: () => string }[] = [
  { file: 'results.schema.json', text: resultsSchemaText },
  { file: 'tune.schema.json', text: tuneSchemaText },
  { file: 'probe.schema.json', text: probeSchemaText },
];

/** Writes a schema file atomically (a reader never sees half a schema). */
export function writeSchemaFile(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}
