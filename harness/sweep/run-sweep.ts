/**
 * Run a sweep: every cell of the matrix against a fresh simulated stack per measurement (started,
 * measured, stopped: no queue, cache or ledger leaks from one measurement to the next), at fixed
 * rates or by a saturation search. sweep.json is rewritten (atomic rename) after every finished
 * measurement, so an interrupted sweep resumes (`resumeDir`) without measuring anything twice.
 *
 * Time scale: the simulated GPUs run `time_scale` times faster, so a measurement of rate r for
 * duration D under SLO S is sent at r * k for D / k with S / k; its rates and throughputs are
 * divided by k and its latencies multiplied by k again, so every figure reads in the real
 * GPU's units (the client's own overhead is scaled up too: keep k moderate for tight SLOs).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, RunError } from '../errors.ts';
import { cellEnv, DeployDriver } from './deploy-commands.ts';
import { closestCell, describeBest } from './recommendation.ts';
import { writeSweepHtml } from './sweep-html.ts';
import { measureVirtual, virtualWorkers } from './virtual-measure.ts';
import { parseScenario } from '../scenario/load-scenario.ts';
import { runScenario } from '../run/run-scenario.ts';
import { startStack as realStartStack, type RunningStack, type StartStackOptions } from '../../reference-stack/stack/start-stack.ts';
import type { StackConfig } from '../../reference-stack/stack/stack-types.ts';
import { scenarioOverrides, type SweepCell, type SweepSpec } from './sweep-file.ts';
import { searchSaturation } from './saturation.ts';

export const SWEEP_SCHEMA_VERSION = 1;

export interface SweepMeasurement {
  rate: number;
  goodput_fraction: number | null;
  goodput_rps: number | null;
  throughput_rps: number | null;
  output_tokens_per_s: number | null;
  ttft_p95_ms: number | null;
  itl_p95_ms: number | null;
  error_rate: number | null;
  requests: number;
  /** Where the measurement was sent: its own simulated stack's gateway, or the deployment's target. */
  stack_url: string;
  /**
   * The server's side, sampled from the stack's /metrics during the measurement (absent when the
   * target serves none): the highest KV-cache usage of any worker (0..1), the most requests
   * running and waiting (summed over the workers, as sampled), and preemptions per real second.
   */
  server?: { kv_cache_usage_max: number | null; running_max: number | null; queue_depth_max: number | null; preemptions_per_s: number | null };
  /** True when the client could not keep to the schedule (summary.client.saturated): the figures may understate the stack. */
  saturated?: boolean;
  run_dir: string;
  finished_at: string;
}

export interface SweepCellResult {
  id: string;
  values: Record<string, unknown>;
  /** One label per axis (matrix path or zip group). */
  labels?: Record<string, unknown>;
  gpus: number;
  measurements: SweepMeasurement[];
  /** Search sweeps: the highest sustainable rate found (null: none passed). */
  saturation: { rate: number | null; lo: number | null; hi: number | null; converged: boolean } | null;
  /** The measurement the cell is ranked by: its highest passing rate. */
  best_rate: number | null;
  goodput_tokens_per_s: number | null;
  cost_per_1m_output_tokens: number | null;
  done: boolean;
}

export interface SweepResult {
  schema_version: number;
  name: string;
  file: string;
  scenario: string;
  stack: string;
  /**
   * simulated: a fresh simulated stack per measurement; deployment: the user's apply/ready
   * commands; virtual: the engine's own model on a virtual clock (`--virtual`, virtual-measure.ts).
   */
  mode?: 'simulated' | 'deployment' | 'virtual';
  /** The axes of the product: matrix paths, then zip groups. */
  axes?: Array<{ name: string; kind: 'path' | 'zip'; paths: string[] }>;
  /** The scenario's SLO, in ms (real-GPU units). */
  slo?: { ttft_ms: number | null; tpot_ms: number | null; itl_ms: number | null; e2e_ms: number | null };
  load: SweepSpec['load'];
  cell: { duration_s: number; time_scale: number };
  target_goodput: number;
  gpu_hour: number | null;
  started_at: string;
  updated_at: string;
  complete: boolean;
  cells: SweepCellResult[];
  best: SweepBest | null;
}

/** The recommendation: the cell with the most goodput under the SLO, and how to deploy it. */
export interface SweepBest {
  cell: string;
  values: Record<string, unknown>;
  rate: number | null;
  /** What cells are ranked by: the sustainable (search) or best passing goodput (rates) rate per GPU, req/s. */
  score_per_gpu?: number;
  goodput_tokens_per_s: number | null;
  cost_per_1m_output_tokens: number | null;
  /** The winner over the runner-up: score_ratio on the ranking score (per GPU), the others on raw rate and throughput. */
  margin: { next_cell: string; score_ratio?: number | null; rate_ratio: number | null; throughput_ratio: number | null } | null;
  /** The cell's stack file, relative to the sweep folder (render it for a GPU box: `harness stack render`). */
  stack_file?: string;
  /** vLLM arguments of each simulated worker of the cell's stack. */
  vllm_args?: Record<string, string[]>;
}

export interface RunSweepOptions {
  /** Sweep folder; default reports/<name>-<UTC time>/. */
  outDir?: string;
  reportsDir?: string;
  /** Resume the sweep in this folder: measurements already in its sweep.json are not redone. */
  resumeDir?: string;
  /** Called after each new measurement (not for ones taken from a resumed sweep.json). */
  onMeasurement?: (cell: SweepCellResult, m: SweepMeasurement) => void;
  /** Called before a measurement starts. */
  onProgress?: (line: string) => void;
  /** Start a stack (tests wrap it); default the reference stack's startStack. */
  startStack?: (stack: StackConfig, o: StartStackOptions) => Promise<RunningStack>;
  /** Stop (Ctrl-C): the measurement in progress is dropped and SweepInterrupted thrown; sweep.json keeps what finished. */
  signal?: AbortSignal;
  /** live (default): the simulated stack or the deployment; virtual: the engine's model (virtual-measure.ts). */
  engine?: 'live' | 'virtual';
}

/** Thrown when a sweep is stopped (Ctrl-C): sweep.json holds every finished measurement, so --resume goes on. */
export class SweepInterrupted extends Error {
  constructor(readonly dir: string) {
    super(`sweep interrupted; what finished is in ${dir}/sweep.json: resume with --resume ${dir}`);
  }
}

const rateKey = (r: number): string => r.toPrecision(10);

export async function runSweep(spec: SweepSpec, o: RunSweepOptions = {}): Promise<{ dir: string; result: SweepResult }> {
  const start = o.startStack ?? realStartStack;
  const virtual = o.engine === 'virtual' ? virtualWorkers(spec) : undefined;
  const mode: SweepResult['mode'] = virtual ? 'virtual' : spec.deploy ? 'deployment' : 'simulated';
  const dir = o.resumeDir ?? o.outDir ?? path.join(o.reportsDir ?? 'reports', `${spec.name}-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const file = path.join(dir, 'sweep.json');
  let previous: SweepResult | undefined;
  if (o.resumeDir === undefined && fs.existsSync(file)) {
    throw new ConfigError([{ code: 'FG_SWEEP_OUT_EXISTS', file, line: 0, col: 0, path: '', message: `${dir} already holds a sweep: resume it with --resume ${dir}, or give another folder` }]);
  }
  if (o.resumeDir !== undefined) {
    try {
      previous = JSON.parse(fs.readFileSync(file, 'utf8')) as SweepResult;
    } catch {
      throw new ConfigError([{ code: 'FG_SWEEP_RESUME', file, line: 0, col: 0, path: '', message: `cannot resume: ${file} cannot be read` }]);
    }
    if (previous.name !== spec.name) {
      throw new ConfigError([{ code: 'FG_SWEEP_RESUME', file, line: 0, col: 0, path: 'name', message: `cannot resume: ${file} is the sweep "${previous.name}", not "${spec.name}"` }]);
    }
    if ((previous.mode ?? 'simulated') !== mode) {
      throw new ConfigError([{ code: 'FG_SWEEP_RESUME', file, line: 0, col: 0, path: 'mode', message: `cannot resume: ${file} was measured ${previous.mode ?? 'simulated'}, this run would be ${mode}: its measurements do not mix` }]);
    }
  }
  fs.mkdirSync(path.join(dir, 'cells'), { recursive: true });
  const targetGoodput = spec.load.targetGoodput;
  const slo = spec.scenario.slo;
  const result: SweepResult = {
    schema_version: SWEEP_SCHEMA_VERSION,
    name: spec.name,
    file: spec.file,
    scenario: spec.scenarioFile,
    stack: spec.stackFile,
    mode,
    axes: spec.axes.map((a) => ({ name: a.name, kind: a.kind, paths: Object.keys(a.values[0] ?? {}) })),
    slo: { ttft_ms: slo.ttftMs ?? null, tpot_ms: slo.tpotMs ?? null, itl_ms: slo.itlMs ?? null, e2e_ms: slo.e2eMs ?? null },
    load: spec.load,
    cell: { duration_s: spec.durationMs / 1000, time_scale: virtual ? 1 : spec.timeScale },
    target_goodput: targetGoodput,
    gpu_hour: spec.gpuHour,
    started_at: previous?.started_at ?? new Date().toISOString(),
    updated_at: new Date().toISOString(),
    complete: false,
    cells: spec.cells.map((c) => ({ id: c.id, values: c.values, labels: c.labels, gpus: c.gpus, measurements: [], saturation: null, best_rate: null, goodput_tokens_per_s: null, cost_per_1m_output_tokens: null, done: false })),
    best: null,
  };
  const cached = new Map<string, SweepMeasurement>();
  for (const c of previous?.cells ?? []) for (const m of c.measurements) cached.set(`${c.id} ${rateKey(m.rate)}`, m);
  const save = (): void => {
    result.updated_at = new Date().toISOString();
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(result, null, 2) + '\n');
    fs.renameSync(tmp, file);
    // The page is readable while the sweep runs (it says it is incomplete).
    writeSweepHtml(dir, result);
  };
  save();

  const deploy = spec.deploy ? new DeployDriver(spec.deploy, { sweepName: spec.name, sweepDir: dir, onProgress: o.onProgress, signal: o.signal }) : null;
  for (let i = 0; i < spec.cells.length; i++) {
    const cell = spec.cells[i]!;
    const res = result.cells[i]!;
    const cellDir = path.join(dir, 'cells', cell.id);
    fs.mkdirSync(cellDir, { recursive: true });
    const header = [
      `# Cell ${cell.id} of sweep "${spec.name}" (${path.basename(spec.file)}): ${spec.stackFile} with`,
      ...Object.entries(cell.values).map(([k, v]) => `#   ${k} = ${JSON.stringify(v)}`),
      '# Written by harness sweep; deploy it with `harness stack render THIS_FILE --format compose|k8s --out DIR`.',
    ];
    fs.writeFileSync(path.join(cellDir, 'stack.yaml'), `${header.join('\n')}\n${cell.stackText}`);
    const measure = async (rate: number): Promise<SweepMeasurement> => {
      const hit = cached.get(`${cell.id} ${rateKey(rate)}`);
      if (hit) {
        res.measurements.push(hit);
        return hit;
      }
      if (o.signal?.aborted) throw new SweepInterrupted(dir);
      o.onProgress?.(`cell ${i + 1}/${spec.cells.length} ${cell.id} rate ${+rate.toFixed(3)} req/s`);
      const m = virtual
        ? measureVirtual(spec, cell, virtual.get(cell.id)!, rate)
        : deploy
        ? await deploy.measure(cell, i, path.join(cellDir, 'stack.yaml'), () => measureOnce(spec, cell, rate, dir, { url: spec.deploy!.url, apiKey: spec.deploy!.apiKey }, o.signal))
        : await measureOnSimulatedStack(spec, cell, rate, dir, start, o.signal);
      res.measurements.push(m);
      save();
      o.onMeasurement?.(res, m);
      return m;
    };
    if (spec.load.kind === 'rates') {
      for (const r of spec.load.rates) await measure(r);
      const passing = res.measurements.filter((m) => (m.goodput_fraction ?? 0) >= targetGoodput);
      const best = passing.sort((a, b) => (b.goodput_rps ?? 0) - (a.goodput_rps ?? 0))[0];
      res.best_rate = best?.rate ?? null;
    } else {
      const s = await searchSaturation(async (r) => ({ goodputFraction: (await measure(r)).goodput_fraction ?? 0 }), {
        start: spec.load.start,
        target: spec.load.targetGoodput,
        precision: spec.load.precision,
        max: spec.load.max,
        maxSteps: spec.load.maxSteps,
      });
      res.saturation = { rate: s.rate, lo: s.lo, hi: s.hi, converged: s.converged };
      res.best_rate = s.rate;
    }
    const at = res.measurements.find((m) => res.best_rate !== null && rateKey(m.rate) === rateKey(res.best_rate));
    res.goodput_tokens_per_s = at?.output_tokens_per_s ?? null;
    res.cost_per_1m_output_tokens = costPerMillion(spec.gpuHour, cell.gpus, at?.output_tokens_per_s ?? null);
    res.done = true;
    save();
    await deploy?.endCell();
  }
  result.best = pickBest(result);
  if (result.best) {
    const cell = spec.cells.find((c) => c.id === result.best!.cell)!;
    result.best.stack_file = path.join('cells', cell.id, 'stack.yaml');
    result.best.vllm_args = JSON.parse(cellEnv(cell, 0, '', { sweepName: spec.name, sweepDir: dir })['FLOODGATE_CELL_VLLM_ARGS']!) as Record<string, string[]>;
  }
  result.complete = true;
  save();
  fs.writeFileSync(path.join(dir, 'sweep.md'), renderSweepMarkdown(result));
  return { dir, result };
}

/** gpu_hour * gpus / (output tok/s * 3600) * 1e6; null without a price or throughput. */
export function costPerMillion(gpuHour: number | null, gpus: number, outputTokPerS: number | null): number | null {
  if (gpuHour === null || outputTokPerS === null || !(outputTokPerS > 0)) return null;
  return ((gpuHour * gpus) / (outputTokPerS * 3600)) * 1e6;
}

async function measureOnSimulatedStack(spec: SweepSpec, cell: SweepCell, rate: number, dir: string, start: NonNullable<RunSweepOptions['startStack']>, signal: AbortSignal | undefined): Promise<SweepMeasurement> {
  const stack = await start(cell.stack, { port: 0, usageDbPath: ':memory:', timeScale: spec.timeScale });
  try {
    const key = stack.devKeys.find((d) => d.tenant === 'pro') ?? stack.devKeys[0];
    if (!key) throw new RunError('FG_SWEEP_NO_KEY', `the stack of cell ${cell.id} accepts none of the development keys (fg-dev-pro, fg-dev-free): the sweep cannot send with a key`);
    return await measureOnce(spec, cell, rate, dir, { url: stack.url, apiKey: key.key }, signal);
  } finally {
    await stack.close();
  }
}

/** One measurement: the scenario at `rate` for the cell's duration against `target`, figures in real-GPU units. */
async function measureOnce(spec: SweepSpec, cell: SweepCell, rate: number, dir: string, target: { url: string; apiKey: string }, signal: AbortSignal | undefined): Promise<SweepMeasurement> {
  const k = spec.timeScale;
  const scenario = parseScenario(spec.scenarioText, spec.scenarioFile, {
    overrides: scenarioOverrides({ url: target.url, apiKey: target.apiKey, rate, durationMs: spec.durationMs, timeScale: k, slo: spec.scenario.slo }),
    env: { ...process.env, FLOODGATE_API_KEY: target.apiKey },
  });
  const runDir = path.join(dir, 'cells', cell.id, `rate-${+rate.toFixed(4)}`);
  fs.rmSync(runDir, { recursive: true, force: true });
  const { summary } = await runScenario(scenario, { outDir: runDir, allowSaturated: true, metricsListen: false, discoverMetrics: true, ...(signal ? { signal } : {}) });
  if (summary.interrupted || signal?.aborted) {
    fs.rmSync(runDir, { recursive: true, force: true });
    throw new SweepInterrupted(dir);
  }
  const scaleRate = (v: number | null): number | null => (v === null ? null : v / k);
  const scaleMs = (v: number | null): number | null => (v === null ? null : v * k);
  return {
    rate,
    goodput_fraction: summary.goodput.fraction,
    goodput_rps: scaleRate(summary.goodput.requests_per_s),
    throughput_rps: scaleRate(summary.throughput.requests_per_s),
    output_tokens_per_s: scaleRate(summary.throughput.output_tokens_per_s),
    ttft_p95_ms: scaleMs(summary.latency_ms.ttft?.p95 ?? null),
    itl_p95_ms: scaleMs(summary.latency_ms.itl?.p95 ?? null),
    error_rate: summary.error_rate,
    requests: summary.requests.total,
    stack_url: target.url,
    ...(summary.client.saturated ? { saturated: true } : {}),
    ...serverFigures(summary, k),
    run_dir: path.relative(dir, runDir),
    finished_at: new Date().toISOString(),
  };
}

/** The measurement's server block (sampled figures; rates in real-GPU seconds). */
function serverFigures(summary: Awaited<ReturnType<typeof runScenario>>['summary'], k: number): Pick<SweepMeasurement, 'server'> {
  const s = summary.server;
  if (!s || !(s.samples > 0)) return {};
  const max = (b: { max: number | null } | null | undefined): number | null => b?.max ?? null;
  const pre = s.preemptions_per_s?.mean ?? null;
  return {
    server: {
      kv_cache_usage_max: max(s.kv_cache_usage_max) ?? max(s.kv_cache_usage),
      running_max: max(s.running),
      queue_depth_max: max(s.queue_depth),
      preemptions_per_s: pre === null ? null : pre / k,
    },
  };
}

/**
 * The cell with the most goodput per GPU under the SLO: a search sweep ranks cells by their
 * sustainable rate, a rates sweep by the goodput (req/s) of their best passing rate, each divided
 * by the cell's GPUs (so two workers must do twice the work of one to win); ties go to the higher
 * output throughput. The margin compares the winner with the runner-up on the same score.
 */
export function pickBest(r: SweepResult): SweepResult['best'] {
  const search = r.load.kind === 'search';
  const score = (c: SweepCellResult): number => {
    if (c.best_rate === null) return -Infinity;
    const m = c.measurements.find((x) => rateKey(x.rate) === rateKey(c.best_rate!));
    const v = search ? c.best_rate : (m?.goodput_rps ?? -Infinity);
    return v / Math.max(1, c.gpus);
  };
  const ranked = r.cells
    .filter((c) => c.best_rate !== null && Number.isFinite(score(c)))
    .sort((a, b) => score(b) - score(a) || (b.goodput_tokens_per_s ?? 0) - (a.goodput_tokens_per_s ?? 0));
  const top = ranked[0];
  if (!top) return null;
  const next = ranked[1];
  return {
    cell: top.id,
    values: top.values,
    rate: top.best_rate,
    score_per_gpu: score(top),
    goodput_tokens_per_s: top.goodput_tokens_per_s,
    cost_per_1m_output_tokens: top.cost_per_1m_output_tokens,
    margin: next
      ? {
          next_cell: next.id,
          score_ratio: score(next) > 0 ? score(top) / score(next) : null,
          rate_ratio: next.best_rate ? (top.best_rate ?? 0) / next.best_rate : null,
          throughput_ratio: next.goodput_tokens_per_s ? (top.goodput_tokens_per_s ?? 0) / next.goodput_tokens_per_s : null,
        }
      : null,
  };
}

const f = (v: number | null | undefined, d = 2): string => (v === null || v === undefined ? '–' : v.toFixed(d));

/** sweep.md: the recommendation (values, margin, cost, how to deploy it) and every measurement. */
export function renderSweepMarkdown(r: SweepResult): string {
  const lines: string[] = [];
  lines.push(`# Sweep ${r.name}`, '');
  const sloText = Object.entries(r.slo ?? {}).filter(([, v]) => v !== null).map(([k, v]) => `${k.replace('_ms', '')} <= ${v} ms`).join(', ');
  lines.push(
    `Scenario \`${path.basename(r.scenario)}\`, stack \`${path.basename(r.stack)}\`, ${r.mode === 'deployment' ? 'a real deployment (apply/ready commands)' : r.mode === 'virtual' ? "the simulated engine's model on a virtual clock (--virtual: no gateway, client or timers)" : `simulated (time scale ${r.cell.time_scale})`}, ${r.cell.duration_s}s per measurement; goodput = share of requests meeting the SLO (${sloText || 'none set'}), target ${r.target_goodput}.` + (r.complete ? '' : ' **Incomplete: the sweep has not finished.**'),
    '',
  );
  const d = describeBest(r);
  if (d) {
    lines.push(`**Best configuration** (cell \`${r.best!.cell}\`): ${d.settings.map((s) => `\`${s}\``).join(', ') || 'the stack as it is'}: ${d.headline}.`);
    if (d.margin) lines.push('', `Margin: ${d.margin}.`);
    if (d.stackFile || d.commands.length > 0) {
      lines.push('', 'Deploy it:', '');
      if (d.stackFile) lines.push(`- the cell's stack file: \`${d.stackFile}\` (\`harness stack render ${d.stackFile} --format compose --out deploy\`)`);
      for (const c of d.commands) lines.push(`- ${c.worker}: \`${c.command}\``);
    }
  } else {
    const c = closestCell(r);
    lines.push(`**No configuration met the target goodput fraction.**` + (c ? ` Closest: \`${c.cell.id}\` at ${f(c.rate)} req/s (goodput ${f(c.fraction, 3)}).` : ''));
  }
  lines.push('', '| cell | GPUs | rate (req/s) | goodput fraction | req/s | output tok/s | TTFT p95 (ms) | ITL p95 (ms) | errors | KV cache max | $/1M out |', '|---|---|---|---|---|---|---|---|---|---|---|');
  for (const c of r.cells) {
    for (const m of [...c.measurements].sort((a, b) => a.rate - b.rate)) {
      const mark = c.best_rate !== null && rateKey(m.rate) === rateKey(c.best_rate) ? ' **(best)**' : '';
      lines.push(`| \`${c.id}\` | ${c.gpus} | ${f(m.rate)}${mark} | ${f(m.goodput_fraction, 3)} | ${f(m.throughput_rps)} | ${f(m.output_tokens_per_s, 0)} | ${f(m.ttft_p95_ms, 0)} | ${f(m.itl_p95_ms, 1)} | ${m.error_rate === null ? '–' : `${(m.error_rate * 100).toFixed(1)}%`} | ${m.server?.kv_cache_usage_max == null ? '–' : `${(m.server.kv_cache_usage_max * 100).toFixed(0)}%`} | ${f(costPerMillion(r.gpu_hour, c.gpus, m.output_tokens_per_s), 3)} |`);
    }
  }
  lines.push('');
  if (r.load.kind === 'search') {
    lines.push('| cell | sustainable rate | bracket | converged |', '|---|---|---|---|');
    for (const c of r.cells) lines.push(`| \`${c.id}\` | ${f(c.saturation?.rate)} | ${f(c.saturation?.lo)} – ${f(c.saturation?.hi)} | ${c.saturation?.converged ? 'yes' : 'no'} |`);
    lines.push('');
  }
  return lines.join('\n');
}
