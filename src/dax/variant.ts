// Known-bad variants of the DAX model: each a named switch, never an edited copy, so a test
// can show that the lab's checks catch the bug the real design avoids.
//
//   remove-on-writeback    writeback deletes the entries it cleaned (the v2 design of seed
//                          000), racing with faults that re-dirty them
//   mapsync-no-sync        a MAP_SYNC write fault maps the page without syncing the block map
//   punch-drops-dirty-pmd  a hole punched inside a dirty PMD entry deletes the entry without
//                          writing back the part that stays (seed 003)

import { checkOneOf } from '../util/check.js';

export const DAX_VARIANTS = ['none', 'remove-on-writeback', 'mapsync-no-sync', 'punch-drops-dirty-pmd'] as const;
export type DaxVariant = (typeof DAX_VARIANTS)[number];

export function checkVariant(v: string): DaxVariant {
  return checkOneOf('variant', v, DAX_VARIANTS);
}
