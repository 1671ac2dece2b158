// `npm run schema`: regenerates schema/results.schema.json (or the path given) from results.ts,
// and schema/tune.schema.json beside it from tune/result.ts.

import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { writeResultsSchema, writeTuneSchema } from './schema_file.js';

// dist/src/measure/schema_cli.js -> the repository root.
const target = process.argv[2] ?? fileURLToPath(new URL('../../../schema/results.schema.json', import.meta.url));
writeResultsSchema(target);
console.log(`wrote ${target}`);
const tuneTarget = path.join(path.dirname(target), 'tune.schema.json');
writeTuneSchema(tuneTarget);
console.log(`wrote ${tuneTarget}`);
