// `npm run schema`: regenerates schema/results.schema.json (or the path given) from results.ts.

import { fileURLToPath } from 'node:url';
import { writeResultsSchema } from './schema_file.js';

// dist/src/measure/schema_cli.js -> the repository root.
const target = process.argv[2] ?? fileURLToPath(new URL('../../../schema/results.schema.json', import.meta.url));
writeResultsSchema(target);
console.log(`wrote ${target}`);
