// `npm run schema`: regenerates every JSON schema under schema/ (or under the folder given)
// from the zod schemas (schema_file.ts lists them).

import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { SCHEMA_FILES, writeSchemaFile } from './schema_file.js';

// dist/src/schema/schema_cli.js -> the repository root.
const dir = process.argv[2] ?? fileURLToPath(new URL('../../../schema/', import.meta.url));
for (const s of SCHEMA_FILES) {
  const target = path.join(dir, s.file);
  writeSchemaFile(target, s.text());
  console.log(`wrote ${target}`);
}
