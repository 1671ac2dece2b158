// A field's place as users write it (files[0].size, costs.trapNs.ns), for error messages
// about JSON inputs. No dependencies: the profile loader, the workload checker and the
// results reader all use it.

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out === '' ? '(top level)' : out;
}
