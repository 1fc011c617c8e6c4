/**
 * The gate's --max-regression spec: `metric=limit[,metric=limit...]`, e.g.
 * `ttft.p95=10%,itl.p99=+5ms,error_rate=+0.5pp,throughput=-5%`.
 *
 * - metric: a compared metric (compare-metrics.ts; `throughput` is
 *   throughput.output_tokens_per_s, `goodput` is goodput.fraction).
 * - limit: how much worse than the baseline the run may be, as a number and a unit:
 *   `%` of the baseline's value (any metric); `ms`, `s`, `us` (latency metrics); `pp`,
 *   percentage points (error_rate, goodput.fraction). An optional sign must point the bad way:
 *   `+` for lower-is-better metrics (latency, error rate, send lag), `-` for higher-is-better ones
 *   (throughput, goodput). A bare number is refused (percent or milliseconds?).
 * Every problem is reported at once: FG_GATE_UNKNOWN_METRIC (with "did you mean"),
 * FG_GATE_BAD_SPEC (anything else).
 */
import { UsageError } from '../errors.ts';
import { nearest } from '../util/did-you-mean.ts';
import { metricByName, METRIC_NAMES, type MetricDef } from './compare-metrics.ts';

/** The limits used when --max-regression is not given (docs/ci.md). */
export const DEFAULT_GATE_SPEC = 'ttft.p95=10%,itl.p95=10%,tpot.p95=10%,e2e.p95=10%,error_rate=+1pp,throughput=-5%,goodput.fraction=-5pp';

export interface GateLimit {
  /** Full metric name (aliases resolved). */
  metric: string;
  def: MetricDef;
  /** `relative`: a fraction of the baseline (10% -> 0.1); `absolute`: in the metric's unit (ms, or a fraction for pp). */
  kind: 'relative' | 'absolute';
  /** Allowed worsening, >= 0. */
  limit: number;
  /** The limit as written, signed the bad way, e.g. `+10%`, `-5pp`, `+50ms`. */
  text: string;
}

const ITEM = /^([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*([+-]?)\s*([0-9]*\.?[0-9]+(?:e[+-]?[0-9]+)?)\s*([a-z%]*)$/i;
const TIME_UNITS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

/** Parses a spec; throws one UsageError listing every problem. */
export function parseGateSpec(spec: string): GateLimit[] {
  const problems: { code: string; message: string }[] = [];
  const out: GateLimit[] = [];
  const items = spec.split(',').map((s) => s.trim());
  if (spec.trim() === '') problems.push({ code: 'FG_GATE_BAD_SPEC', message: 'the spec is empty; write metric=limit[,metric=limit...], e.g. ttft.p95=10%' });
  else
    for (const item of items) {
      if (item === '') {
        problems.push({ code: 'FG_GATE_BAD_SPEC', message: `"${spec}": an empty item (two commas, or a trailing comma)` });
        continue;
      }
      const m = ITEM.exec(item);
      if (!m) {
        problems.push({ code: 'FG_GATE_BAD_SPEC', message: `"${item}" is not metric=limit (e.g. ttft.p95=10%, e2e.p99=+200ms, error_rate=+0.5pp)` });
        continue;
      }
      const [, name, sign, numText, unitRaw] = m as unknown as [string, string, string, string, string];
      const def = metricByName(name);
      if (!def) {
        const hint = nearest(name, METRIC_NAMES);
        problems.push({ code: 'FG_GATE_UNKNOWN_METRIC', message: `"${item}": unknown metric "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}; allowed: ${METRIC_NAMES.join(', ')}` });
        continue;
      }
      const unit = unitRaw.toLowerCase();
      const bad = def.better === 'lower' ? '+' : '-';
      if (sign !== '' && sign !== bad) {
        problems.push({
          code: 'FG_GATE_BAD_SPEC',
          message: `"${item}": ${def.name} regresses when it ${def.better === 'lower' ? 'rises' : 'falls'}; write its limit as ${bad}${numText}${unitRaw} or ${numText}${unitRaw}`,
        });
        continue;
      }
      const value = Number(numText);
      let kind: GateLimit['kind'];
      let limit: number;
      if (unit === '%') {
        kind = 'relative';
        limit = value / 100;
      } else if (unit === 'pp' && def.unit === 'fraction') {
        kind = 'absolute';
        limit = value / 100;
      } else if (TIME_UNITS[unit] !== undefined && def.unit === 'ms') {
        kind = 'absolute';
        limit = value * TIME_UNITS[unit]!;
      } else {
        const allowed = def.unit === 'ms' ? '% or ms (s, us)' : def.unit === 'fraction' ? '% or pp (percentage points)' : '%';
        problems.push({
          code: 'FG_GATE_BAD_SPEC',
          message: unit === '' ? `"${item}": the limit needs a unit: ${allowed}` : `"${item}": unit "${unitRaw}" does not apply to ${def.name}; use ${allowed}`,
        });
        continue;
      }
      if (out.some((l) => l.metric === def.name)) {
        problems.push({ code: 'FG_GATE_BAD_SPEC', message: `"${item}": ${def.name} is given twice` });
        continue;
      }
      out.push({ metric: def.name, def, kind, limit, text: `${bad}${numText}${unit === '%' ? '%' : unit}` });
    }
  if (problems.length > 0) {
    const codes = new Set(problems.map((p) => p.code));
    throw new UsageError(codes.size === 1 ? problems[0]!.code : 'FG_GATE_BAD_SPEC', `--max-regression: ${problems.map((p) => p.message).join('; ')}`);
  }
  return out;
}
