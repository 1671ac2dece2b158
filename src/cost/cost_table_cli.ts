// `npm run readme:costs`: regenerates the README's cost table (cost_table.ts) from the shipped
// profiles, in place, written atomically.

import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../util/package_root.js';
import { costTableMarkdown, shippedProfiles, withCostTable } from './cost_table.js';

const target = process.argv[2] ?? fileURLToPath(new URL('README.md', packageRoot()));
const next = withCostTable(readFileSync(target, 'utf8'), costTableMarkdown(shippedProfiles()));
const tmp = `${target}.tmp-${process.pid}`;
writeFileSync(tmp, next);
renameSync(tmp, target);
console.log(`wrote the cost table of ${target}`);
