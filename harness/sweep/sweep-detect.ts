/**
 * Whether parsed YAML is a sweep file rather than a scenario: a map with a `scenario` key (the
 * traffic it sweeps) and a `matrix` or `zip`, or a `load` with `rates` or `search`. Scenario files
 * have no `scenario` key. No imports: the scenario loader uses it too.
 */
export function looksLikeSweep(raw: unknown): boolean {
  const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!isMap(raw) || typeof raw['scenario'] !== 'string') return false;
  const load = raw['load'];
  return raw['matrix'] !== undefined || raw['zip'] !== undefined || (isMap(load) && (load['rates'] !== undefined || load['search'] !== undefined));
}
