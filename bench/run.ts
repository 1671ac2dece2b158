// npm run bench: every suite, printed and recorded under results/bench/.

import { machineInfo, writeResult } from './support.js';
import { runMachineSuite } from './machine.js';
import { runFsSuite } from './fs.js';
import { runWritebackSuite } from './writeback.js';
import { runMmSuite } from './mm.js';
import { runNdelaySuite } from './ndelay.js';
import { runTargets, type TargetLine } from './targets.js';
import { runCrashSuite } from './crashtest.js';

const lines: string[] = [];
const log = (s: string) => {
  lines.push(s);
  console.log(s);
};

const info = machineInfo();
log(`daxlab bench on ${info.cpus} × ${info.cpuModel}, Node ${info.node}, ${info.date}\n`);
log('== machine (issue 4): locks, index, device ==');
const machine = await runMachineSuite(log);
writeResult('machine.json', JSON.stringify({ machine: info, ...machine }, null, 2) + '\n');
writeResult('machine.txt', lines.join('\n') + '\n');

log('\n== fs (issue 5): fsync through the journal, zero cost profile ==');
const fs = await runFsSuite(log);
writeResult('fs.json', JSON.stringify({ machine: info, rows: fs }, null, 2) + '\n');

log('\n== writeback (issue 6): the tagged walk in a big file ==');
const wb = await runWritebackSuite(log);
writeResult('writeback.json', JSON.stringify({ machine: info, ...wb }, null, 2) + '\n');

log('\n== mm (issue 6): stores and faults through a mapping, one CPU, zero cost ==');
const mmRows = await runMmSuite(log);
writeResult('mm.json', JSON.stringify({ machine: info, rows: mmRows }, null, 2) + '\n');

log('\n== cost injection (issue 7): ndelay accuracy ==');
const nd = runNdelaySuite(log);
writeResult('ndelay.json', JSON.stringify({ machine: info, ...nd }, null, 2) + '\n');
writeResult('machine.txt', lines.join('\n') + '\n');
writeResult('machine.txt', lines.join('\n') + '\n');

log('\n== crashtest (issue 16): crash points per minute on crash-mix ==');
const crash = await runCrashSuite(log);
writeResult('crashtest.json', JSON.stringify({ machine: info, ...crash }, null, 2) + '\n');

log('\n== targets (issue 9): the lab against its own targets ==');
const t0 = performance.now();
const writebackTarget: TargetLine = {
  target: 'writeback: fsync of 1 dirty page among 1,000,000 clean entries against a 1-entry file',
  figure: wb.ratio,
  unit: 'x',
  goal: '< 2x',
  pass: wb.ratio < 2,
  detail: 'the tagged walk skips clean subtrees; from the writeback suite above',
};
const store = mmRows[0];
const storeTarget: TargetLine = {
  target: 'simulator speed: 8-byte stores to pages already writable',
  figure: 1e9 / store.nsPerOp,
  unit: 'stores/s',
  goal: '>= 10,000,000',
  pass: 1e9 / store.nsPerOp >= 1e7,
  detail: `${store.nsPerOp.toFixed(1)} ns per store at the median; from the mm suite above`,
};
const crashTarget: TargetLine = {
  target: 'crashtest: crash points per minute on crash-mix (issue 16)',
  figure: crash.pointsPerMinute,
  unit: 'points/min',
  goal: '>= 1,000',
  pass: crash.pointsPerMinute >= 1000,
  detail: `${crash.points} points in ${crash.seconds.toFixed(1)} s on ${crash.config}; from the crashtest suite above`,
};
const targets = await runTargets(log, [storeTarget, writebackTarget, crashTarget]);
log(`(targets measured in ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
writeResult('latest.json', JSON.stringify({ machine: info, targets }, null, 2) + '\n');
writeResult('machine.txt', lines.join('\n') + '\n');
