/**
 * Durations as users write them (`500ms`, `30s`, `2m`, `1h30m`, `1.5s`), parsed once at load
 * time into milliseconds. A bare number is refused (is `30` seconds or milliseconds?), except 0.
 */

const PART = /(\d+(?:\.\d+)?)(ms|us|s|m|h)/gy;
const FACTOR: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: unknown): number | undefined {
  if (text === 0 || text === '0') return 0;
  if (typeof text !== 'string') return undefined;
  const s = text.trim();
  if (s === '') return undefined;
  PART.lastIndex = 0;
  let total = 0;
  let pos = 0;
  for (;;) {
    const m = PART.exec(s);
    if (!m) break;
    total += Number(m[1]) * FACTOR[m[2]!]!;
    pos = PART.lastIndex;
  }
  return pos === s.length && pos > 0 ? total : undefined;
}

/** Short human form: 850ms, 1.25s, 2m30s. */
export function formatDuration(ms: number): string {
  // Round first, then pick the unit, so that rounding carries (59.999 s is 1m, not 60s).
  const msR = Math.round(ms * 100) / 100;
  if (msR < 1000) return `${msR}ms`;
  const sR = Math.round(ms / 10) / 100;
  if (sR < 60) return `${sR}s`;
  const totalS = Math.round(ms / 1000);
  const m = Math.floor(totalS / 60);
  const s = totalS - m * 60;
  return s ? `${m}m${s}s` : `${m}m`;
}
