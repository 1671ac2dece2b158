// schema/results.schema.json is generated from the zod schema in results.ts, never edited by
// hand; a test compares the committed file with resultsSchemaText() so the two cannot drift.

import { renameSync, writeFileSync } from 'node:fs';
import { resultsJsonSchema } from './results.js';
import { tuneJsonSchema } from '../tune/result.js';

/** The file's exact text: two-space JSON and a final newline, so regenerating an unchanged schema changes no byte. */
export function resultsSchemaText(): string {
  return JSON.stringify(resultsJsonSchema(), null, 2) + '\n';
}

/** Writes the schema file atomically (a reader never sees half a schema). */
export function writeResultsSchema(path: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, resultsSchemaText());
  renameSync(tmp, path);
}

/** schema/tune.schema.json's exact text, from tune/result.ts. */
export function tuneSchemaText(): string {
  return JSON.stringify(tuneJsonSchema(), null, 2) + '\n';
}

export function writeTuneSchema(path: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, tuneSchemaText());
  renameSync(tmp, path);
}
