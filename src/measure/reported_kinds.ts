// Which operation kinds the tables and exports (table.txt, ops.csv, hgrm/) show for one
// configuration. `fault` is the union of read-fault, write-fault and sync-fault; when all of a
// configuration's faults were of one kind its rows repeat that kind's figure for figure, so
// they are left out there. results.json keeps `fault` always: it is the record that show,
// compare and merge read.

import { FAULT_KINDS, OP_KINDS, type OpKind } from './histogram.js';

/** The kinds with figures, in OP_KINDS order, without `fault` when it adds nothing to a single fault kind. */
export function reportedKinds(ops: Readonly<Partial<Record<OpKind, { count: number }>>>): OpKind[] {
  const kinds = OP_KINDS.filter((k) => ops[k] !== undefined);
  return faultIsRedundant(ops) ? kinds.filter((k) => k !== 'fault') : kinds;
}

/** True when at most one fault kind has faults, so `fault` holds exactly that kind's values. */
export function faultIsRedundant(ops: Readonly<Partial<Record<OpKind, { count: number }>>>): boolean {
  const fault = ops.fault;
  if (fault === undefined) return false;
  const nonEmpty = FAULT_KINDS.filter((k) => (ops[k]?.count ?? 0) > 0);
  return nonEmpty.length === 1 && ops[nonEmpty[0]]!.count === fault.count;
}
