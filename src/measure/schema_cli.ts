// `npm run schema`: regenerates schema/results.schema.json (or the path given) from results.ts,
// and schema/probe.schema.json (or the second path given) from src/probe/schema.ts.

import { fileURLToPath } from 'node:url';
import { writeResultsSchema } from './schema_file.js';
import { writeProbeSchema } from '../probe/schema_file.js';

// dist/src/measure/schema_cli.js -> the repository root.
const target = process.argv[2] ?? fileURLToPath(new URL('../../../schema/results.schema.json', import.meta.url));
writeResultsSchema(target);
console.log(`wrote ${target}`);
const probeTarget = process.argv[3] ?? fileURLToPath(new URL('../../../schema/probe.schema.json', import.meta.url));
writeProbeSchema(probeTarget);
console.log(`wrote ${probeTarget}`);
