/**
 * A scenario's `mix:` block: several traffic streams in one run (docs/scenarios.md, "Mixes"),
 * each with its tenant, API key, model and priority, and either a load shape of its own or a
 * weighted share of the scenario's `load.stages`.
 *
 *     mix:
 *       - {name: pro, tenant: pro, load: {stages: [{duration: 60s, rate: 4}]}}
 *       - {name: free, tenant: free, priority: 5, load: {stages: [{duration: 20s, rate: 2}, {duration: 15s, rate: 40}, {duration: 25s, rate: 2}]}}
 *
 * Streams with their own `load.stages` run them on the run's clock: open-loop stages (rate) and
 * closed-loop stages (users, think_time; each user sends with the stream's key, model, tenant and
 * priority). Streams without are given `weight` (default 1): the open-loop requests of the
 * scenario's own `load.stages` are assigned to them by a seeded draw, and so are the closed-loop
 * users of its closed stages (a user keeps its stream for the run).
 */
import type { LoadConfig, MixStream, OpenStage, Stage } from './scenario-types.ts';
import { childPath, formatMs, MapView, type NodeReader } from './yaml-node-reader.ts';

export const MIX_KEYS = ['name', 'tenant', 'api_key', 'model', 'priority', 'weight', 'load'] as const;
export const MIX_LOAD_KEYS = ['stages'] as const;
const STREAM_NAME = /^[A-Za-z0-9_-]+$/;
const MAX_STREAMS = 64;

/** Reads one stage (the schema's own stage reader, so the syntax is load.stages'). */
export type StageReader = (r: NodeReader, item: unknown, path: string, index: number) => Stage | undefined;

export interface MixRead {
  /** Undefined when anything in `mix` is invalid (issues recorded). */
  streams: MixStream[] | undefined;
  /** Some stream takes a weighted share of load.stages (so load.stages are needed). */
  weighted: boolean;
}

/** Read `mix` from the top-level map; undefined when absent. */
export function readMix(top: MapView, readStage: StageReader, targetModel: string | undefined): MixRead | undefined {
  const seq = top.seq('mix');
  if (!seq) return undefined;
  const r = top.r;
  const before = r.issues.length;
  const path = top.pathOf('mix');
  if (seq.items.length === 0) r.report('FG_SCENARIO_BAD_VALUE', seq, path, 'mix is empty', { allowed: 'a list of at least one stream {name, tenant, api_key, model, priority, weight | load}' });
  if (seq.items.length > MAX_STREAMS) r.report('FG_SCENARIO_BAD_VALUE', seq, path, `mix has ${seq.items.length} streams`, { value: seq.items.length, allowed: `at most ${MAX_STREAMS} streams` });
  const streams: Array<MixStream | undefined> = [];
  const names = new Map<string, number>();
  let weighted = false;
  seq.items.forEach((item, i) => {
    const p = childPath(path, i);
    const m = r.asMap(item, p, 'a stream map {name, tenant, api_key, model, priority, weight | load}');
    if (!m) return void streams.push(undefined);
    m.checkKeys(MIX_KEYS);
    const name = m.str('name', true);
    let nameOk = name !== undefined;
    if (name !== undefined && !STREAM_NAME.test(name)) {
      r.report('FG_SCENARIO_BAD_VALUE', m.get('name'), m.pathOf('name'), `stream name ${JSON.stringify(name)} cannot be used in a report key`, { value: name, allowed: 'letters, digits, "_" and "-"' });
      nameOk = false;
    } else if (name !== undefined) {
      const first = names.get(name);
      if (first !== undefined) {
        r.report('FG_SCENARIO_BAD_VALUE', m.get('name'), m.pathOf('name'), `stream name "${name}" is already used by mix stream ${first}`, { value: name, allowed: 'a name no other stream has' });
        nameOk = false;
      } else names.set(name, i);
    }
    const tenant = m.str('tenant');
    if (tenant !== undefined && !STREAM_NAME.test(tenant)) {
      r.report('FG_SCENARIO_BAD_VALUE', m.get('tenant'), m.pathOf('tenant'), `tenant ${JSON.stringify(tenant)} cannot be used in a threshold (by_tenant.<name>.ttft.p95)`, { value: tenant, allowed: 'letters, digits, "_" and "-"' });
    }
    const apiKey = m.str('api_key');
    if (apiKey !== undefined && /[\r\n\0]/.test(apiKey)) {
      r.report('FG_SCENARIO_BAD_VALUE', m.get('api_key'), m.pathOf('api_key'), 'an API key cannot contain a line break or NUL', { allowed: 'a single-line string' });
    }
    const model = m.str('model');
    if (model !== undefined && model.trim() === '') m.missing('model', '"model" must not be empty', 'a model name (default: target.model)');
    const priority = m.num('priority', { integer: true, min: 0, max: 9 });
    const weight = m.num('weight', { min: 0, minExclusive: true });
    let stages: Stage[] | undefined;
    if (m.has('load') && m.has('weight')) {
      const later = r.offset(m.keyNode('load')) >= r.offset(m.keyNode('weight')) ? 'load' : 'weight';
      r.report('FG_SCENARIO_CONFLICT', m.keyNode(later), m.pathOf(later), 'a stream has its own load (load.stages) or a weight (a share of the scenario\'s load.stages), not both', { allowed: 'load or weight' });
    } else if (m.has('load')) {
      stages = readStreamStages(m, readStage);
    } else weighted = true;
    if (!nameOk || name === undefined || (m.has('load') && !stages) || targetModel === undefined) return void streams.push(undefined);
    streams.push({
      index: i,
      name,
      tenant: tenant === undefined || tenant === '' ? name : tenant,
      stackTenant: tenant === '' ? undefined : tenant,
      apiKey: apiKey === '' ? undefined : apiKey,
      model: model === undefined || model.trim() === '' ? targetModel : model,
      priority,
      weight: stages ? undefined : weight ?? 1,
      stages,
    });
  });
  if (r.issues.length > before || streams.some((s) => s === undefined) || streams.length === 0) return { streams: undefined, weighted };
  return { streams: streams as MixStream[], weighted };
}

function readStreamStages(m: MapView, readStage: StageReader): Stage[] | undefined {
  const r = m.r;
  const lm = m.map('load');
  if (!lm) return undefined;
  lm.checkKeys(MIX_LOAD_KEYS);
  const seq = lm.seq('stages', true);
  if (!seq) return undefined;
  if (seq.items.length === 0) {
    r.report('FG_SCENARIO_BAD_VALUE', seq, lm.pathOf('stages'), 'stages is empty', { allowed: 'a list of at least one stage' });
    return undefined;
  }
  const out: Stage[] = [];
  let ok = true;
  seq.items.forEach((item, i) => {
    const s = readStage(r, item, childPath(lm.pathOf('stages'), i), i);
    if (!s) return void (ok = false);
    out.push(s);
  });
  return ok ? out : undefined;
}

/**
 * Check the mix against the scenario's load (read with `load.stages` optional when no stream is
 * weighted) and settle the run's stages: with no weighted stream, one open stage `mix` as long as
 * the longest stream. Returns the load as run; undefined on a problem (recorded).
 */
export function settleMixLoad(top: MapView, mix: MixRead, load: LoadConfig | undefined, loadMap: MapView | undefined, traced: boolean): LoadConfig | undefined {
  const r = top.r;
  const before = r.issues.length;
  if (traced) r.report('FG_SCENARIO_CONFLICT', top.keyNode('mix'), 'mix', 'mix does not apply with workload.trace: a trace gives its own models and tenants', { allowed: 'mix or workload.trace, not both' });
  const streams = mix.streams;
  const hasStages = loadMap?.has('stages') ?? false;
  if (!mix.weighted && hasStages) {
    r.report('FG_SCENARIO_CONFLICT', loadMap!.keyNode('stages'), loadMap!.pathOf('stages'), 'load.stages would send nothing: every mix stream has a load of its own (load.stages are shared by the streams given a weight)', {
      allowed: 'remove load.stages, or give a stream a weight instead of its own load',
    });
  }
  // (a weighted stream needs load.stages: the schema reads them as required then)
  if (!streams || !load || r.issues.length > before) return undefined;
  if (mix.weighted) {
    const total = load.stages.reduce((t, s) => t + s.durationMs, 0);
    for (const s of streams) {
      const own = s.stages?.reduce((t, x) => t + x.durationMs, 0);
      if (own !== undefined && own > total) {
        r.report('FG_SCENARIO_CONFLICT', top.seq('mix')!.items[s.index], childPath(childPath('mix', s.index), 'load'), `stream "${s.name}" lasts ${formatMs(own)}, longer than load.stages (${formatMs(total)}), which set the run's clock when a stream has a weight`, {
          allowed: `stages of at most ${formatMs(total)} in all`,
        });
      }
    }
    return r.issues.length > before ? undefined : load;
  }
  // No weighted stream: the run is one stage, as long as the longest stream (its rate: the
  // streams' open-loop requests over it; their closed-loop users come on top).
  let durationMs = 0;
  let planned = 0;
  for (const s of streams) {
    let d = 0;
    for (const st of s.stages!) {
      d += st.durationMs;
      if (st.kind === 'open') planned += st.rateRps * st.durationMs;
    }
    durationMs = Math.max(durationMs, d);
  }
  const stage: OpenStage = { index: 0, name: 'mix', durationMs, rampMs: 0, kind: 'open', rateRps: planned / durationMs };
  if (load.warmupMs + load.cooldownMs >= durationMs) {
    const key = loadMap?.has('warmup') ? 'warmup' : 'cooldown';
    r.report('FG_SCENARIO_BAD_VALUE', loadMap?.get(key), loadMap?.pathOf(key) ?? 'load', `warmup (${formatMs(load.warmupMs)}) + cooldown (${formatMs(load.cooldownMs)}) leave nothing of the mix's ${formatMs(durationMs)} to measure`, {
      allowed: `warmup + cooldown < ${formatMs(durationMs)} (the longest stream)`,
    });
    return undefined;
  }
  return { ...load, stages: [stage] };
}
