/**
 * Sweeps on the engine's own model (`harness sweep --virtual`): each measurement is the sweep's
 * scenario at a rate, planned exactly as a live run plans it (same seed, arrivals and lengths),
 * sent through virtualRun (reference-stack/worker-sim/virtual-run.ts: the simulated worker's
 * scheduler, KV cache and performance model on a virtual clock), with no gateway, no client and
 * no timers: seconds instead of minutes, and no machine in the figures. What it leaves out: the
 * gateway (routing, queue, limits), the client, HTTP and the chat template's few tokens; so
 * every cell must be one simulated worker. bench/sweeps compares the two on the shipped sweeps.
 */
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { parseScenario } from '../scenario/load-scenario.ts';
import type { Scenario } from '../scenario/scenario-types.ts';
import { buildPlan } from '../workload/plan.ts';
import { virtualRun, type VirtualRequestResult } from '../../reference-stack/worker-sim/virtual-run.ts';
import type { SimEngineOptions } from '../../reference-stack/worker-sim/sim-engine.ts';
import { scenarioOverrides, type SweepCell, type SweepSpec } from './sweep-file.ts';
import type { SweepMeasurement } from './run-sweep.ts';

/** The one simulated worker of each cell; a coded error naming every cell that has another shape. */
export function virtualWorkers(spec: SweepSpec): Map<string, SimEngineOptions> {
  const out = new Map<string, SimEngineOptions>();
  const issues: ConfigIssue[] = [];
  if (spec.deploy) issues.push({ code: 'FG_SWEEP_VIRTUAL', file: spec.file, line: 0, col: 0, path: 'deploy', message: '--virtual models the simulated engine: a sweep with deploy: measures a real deployment' });
  for (const c of spec.cells) {
    const w = c.stack.workers;
    if (w.length !== 1 || w[0]!.kind !== 'sim') {
      issues.push({ code: 'FG_SWEEP_VIRTUAL', file: spec.file, line: 0, col: 0, path: 'stack', message: `cell ${c.id} has ${w.length} worker(s)${w.some((x) => x.kind !== 'sim') ? ', not all simulated' : ''}: --virtual models one simulated worker per cell (the gateway's routing between workers is not modelled); run it live` });
    } else out.set(c.id, w[0]!.sim);
  }
  if (issues.length > 0) throw new ConfigError(issues);
  return out;
}

/** Whether a request met every SLO the scenario sets (docs/metrics.md). */
export function meetsSlo(r: VirtualRequestResult, slo: Scenario['slo']): boolean {
  if (slo.ttftMs !== undefined && r.ttftMs > slo.ttftMs) return false;
  if (slo.e2eMs !== undefined && r.e2eMs > slo.e2eMs) return false;
  if (r.outputTokens > 1) {
    if (slo.tpotMs !== undefined && (r.e2eMs - r.ttftMs) / (r.outputTokens - 1) > slo.tpotMs) return false;
    if (slo.itlMs !== undefined && r.itlMs.length > 0 && r.itlMs.reduce((a, b) => a + b, 0) / r.itlMs.length > slo.itlMs) return false;
  }
  return true;
}

function p95(xs: number[]): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(0.95 * s.length) - 1)]!;
}

/** One measurement on the engine's model: the scenario at `rate` for the cell's duration. */
export function measureVirtual(spec: SweepSpec, cell: SweepCell, sim: SimEngineOptions, rate: number): SweepMeasurement {
  const scenario = parseScenario(spec.scenarioText, spec.scenarioFile, {
    overrides: scenarioOverrides({ url: 'http://127.0.0.1:9/v1', apiKey: 'virtual', rate, durationMs: spec.durationMs, timeScale: 1, slo: spec.scenario.slo }),
    env: { ...process.env, FLOODGATE_API_KEY: 'virtual' },
  });
  const plan = buildPlan(scenario);
  const reqs = plan.open.filter((p) => p.phase === 'measure').map((p) => ({ arrivalMs: p.intendedMs, promptTokens: p.promptTokens, outputTokens: p.outputTokens }));
  const res = virtualRun({ ...sim, timeScale: 1 }, reqs, { seed: scenario.seed });
  const n = res.requests.length;
  const good = res.requests.filter((r) => meetsSlo(r, scenario.slo));
  // The window a live run divides by: the stage, or longer when the last answers come later.
  const windowS = Math.max(spec.durationMs, res.durationMs) / 1000;
  const out = res.requests.reduce((a, r) => a + r.outputTokens, 0);
  return {
    rate,
    goodput_fraction: n ? good.length / n : null,
    goodput_rps: good.length / windowS,
    throughput_rps: n / windowS,
    output_tokens_per_s: out / windowS,
    ttft_p95_ms: p95(res.requests.map((r) => r.ttftMs)),
    itl_p95_ms: p95(res.requests.flatMap((r) => r.itlMs)),
    error_rate: n ? 0 : null,
    requests: n,
    stack_url: 'virtual',
    server: { kv_cache_usage_max: res.peakKvUsage, running_max: res.peakRunning, queue_depth_max: null, preemptions_per_s: res.preemptions / windowS },
    run_dir: '',
    finished_at: new Date().toISOString(),
  };
}
