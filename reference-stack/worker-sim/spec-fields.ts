/**
 * Field checks shared by the GPU and model catalogues' validation of user-defined specs: each
 * records a problem (quoting the bad value) instead of throwing, so every problem of a spec is
 * reported at once.
 */

/** A value as a problem message quotes it. */
export function show(v: unknown): string {
  return typeof v === 'string' ? `"${v}"` : JSON.stringify(v) ?? String(v);
}

/** A non-empty string field; undefined (and a problem when required) otherwise. */
export function stringField(o: Record<string, unknown>, k: string, required: boolean, problems: string[]): string | undefined {
  const v = o[k];
  if (v === undefined) {
    if (required) problems.push(`${k}: required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.trim() === '') {
    problems.push(`${k}: must be a non-empty string, got ${show(v)}`);
    return undefined;
  }
  return v;
}

/** A finite number > 0; undefined (and a problem when required or malformed) otherwise. */
export function positiveNumber(o: Record<string, unknown>, k: string, required: boolean, problems: string[]): number | undefined {
  const v = o[k];
  if (v === undefined) {
    if (required) problems.push(`${k}: required`);
    return undefined;
  }
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    problems.push(`${k}: must be a positive number, got ${show(v)}`);
    return undefined;
  }
  return v;
}
