// The cost table: every value the shipped profiles give, one row per kernel step, with the
// kernel function it models, where the lab charges it, and per profile its value and kind.
// `daxlab list` prints it; the README's copy is generated from it (npm run readme:costs) and a
// test checks that the README's copy is current, so neither can drift from the profiles.

import { COST_NAMES, COST_STEPS, type CostStep } from './costs.js';
import { IDLE_WAKEUP_STEP } from './idle_wakeup.js';
import { describeKind, loadProfile, profileValues, shippedProfileNames, type CostProfile, type ProfileValue } from './profile.js';

/** The README lines between which the generated table sits. */
export const TABLE_BEGIN = '<!-- cost-table:begin: generated from src/cost/ by `npm run readme:costs`; test/cost_profile.test.ts checks it is current -->';
export const TABLE_END = '<!-- cost-table:end -->';

/** Each row's step: a cost's from COST_STEPS, an idle wake-up parameter's from IDLE_WAKEUP_STEP. */
function stepOf(name: string): CostStep {
  if ((COST_NAMES as readonly string[]).includes(name)) return COST_STEPS[name as keyof typeof COST_STEPS];
  const what = { 'idleWakeup.medianNs': 'median', 'idleWakeup.sigma': 'spread (sigma)', 'idleWakeup.minIdleNs': 'shortest idle period that pays it' }[name];
  if (what === undefined) throw new Error(`cost table: no step for ${name}`);
  return { ...IDLE_WAKEUP_STEP, step: `${IDLE_WAKEUP_STEP.step}: ${what}` };
}

/** The shipped profiles, in the order the table's columns list them. */
export function shippedProfiles(): CostProfile[] {
  return shippedProfileNames().map((n) => loadProfile(n));
}

/** A value as the table prints it: `280 ns`, `9.19 µs`, `0`, or a plain number (sigma). */
export function formatValue(v: Pick<ProfileValue, 'value' | 'unit'>): string {
  const three = (x: number) => String(Number(x.toPrecision(3)));
  if (v.unit === '' || v.value === 0) return String(v.value);
  if (v.value < 1e3) return `${three(v.value)} ns`;
  if (v.value < 1e6) return `${three(v.value / 1e3)} µs`;
  return `${three(v.value / 1e6)} ms`;
}

interface Row {
  name: string;
  step: CostStep;
  /** Per profile, in the profiles' order. */
  values: ProfileValue[];
}

function rows(profiles: readonly CostProfile[]): Row[] {
  const per = profiles.map((p) => profileValues(p));
  return per[0].map((v, i) => ({ name: v.name, step: stepOf(v.name), values: per.map((vs) => vs[i]) }));
}

/** The table for a terminal: a line of values and kinds per cost, then its step, kernel function and where it is charged. */
export function costTableText(profiles: readonly CostProfile[]): string {
  const rs = rows(profiles);
  const cell = (v: ProfileValue) => `${formatValue(v)} ${v.kind}`;
  const nameW = Math.max(...rs.map((r) => r.name.length));
  const colW = profiles.map((p, i) => Math.max(p.name.length, ...rs.map((r) => cell(r.values[i]).length)));
  const line = (first: string, cells: string[]) => `  ${first.padEnd(nameW)}  ${cells.map((c, i) => c.padEnd(colW[i])).join('  ')}`.trimEnd();
  const out = [line('', profiles.map((p) => p.name))];
  for (const r of rs) {
    out.push(line(r.name, r.values.map(cell)));
    out.push(`      ${r.step.step}: ${r.step.kernel}; charged in ${r.step.chargedIn}`);
  }
  return out.join('\n');
}

const md = (s: string) => s.replace(/\|/g, '\\|');

/** The README's section: the table, then each profile's sources. */
export function costTableMarkdown(profiles: readonly CostProfile[]): string {
  const rs = rows(profiles);
  const out = [
    `| value | step | kernel function (4.14; today's where it changed) | charged in | ${profiles.map((p) => `\`${p.name}\``).join(' | ')} |`,
    `|---|---|---|---|${profiles.map(() => '---|').join('')}`,
  ];
  for (const r of rs) {
    const cells = r.values.map((v) => `${formatValue(v)}, ${md(describeKind(v))}`);
    out.push(`| \`${r.name}\` | ${md(r.step.step)} | ${md(r.step.kernel)} | \`${md(r.step.chargedIn)}\` | ${cells.join(' | ')} |`);
  }
  for (const [i, p] of profiles.entries()) {
    const values = rs.map((r) => r.values[i]);
    out.push('', `<details><summary>Sources of <code>${p.name}</code></summary>`, '');
    if (values.every((v) => v.kind === 'none' && v.source === values[0].source)) {
      out.push(`Every value is 0, of kind none: ${md(values[0].source)}.`);
    } else {
      for (const v of values) out.push(`- \`${v.name}\` (${md(describeKind(v))}): ${md(v.source)}`);
    }
    for (const n of p.notes ?? []) out.push('', `Note: ${md(n)}`);
    out.push('', '</details>');
  }
  return out.join('\n');
}

/** The README with its cost-table section replaced by `table`; throws when the markers are missing. */
export function withCostTable(readme: string, table: string): string {
  const b = readme.indexOf(TABLE_BEGIN);
  const e = readme.indexOf(TABLE_END);
  if (b < 0 || e < b) throw new Error(`README.md: no cost table section (expected the lines ${TABLE_BEGIN} and ${TABLE_END})`);
  return `${readme.slice(0, b + TABLE_BEGIN.length)}\n${table}\n${readme.slice(e)}`;
}

/** The README's current cost-table section (between the markers). */
export function readmeCostTable(readme: string): string {
  const b = readme.indexOf(TABLE_BEGIN);
  const e = readme.indexOf(TABLE_END);
  if (b < 0 || e < b) throw new Error(`README.md: no cost table section (expected the lines ${TABLE_BEGIN} and ${TABLE_END})`);
  return readme.slice(b + TABLE_BEGIN.length + 1, e - 1);
}
