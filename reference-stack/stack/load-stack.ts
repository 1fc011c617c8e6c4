/**
 * Loading a stack file: read it, parse the YAML, interpolate the environment, validate every
 * section (models, workers, gateway, tenants), check the references between them, and return a
 * deep-frozen StackConfig, or throw one ConfigError listing every problem with its FG_STACK_ code.
 *
 * This module is the stack's schema (the one place saying which keys exist, their types, ranges
 * and defaults); docs/stack.md describes the same schema for users. It reuses the scenario's YAML
 * machinery (NodeReader, MapView, environment interpolation), whose issues carry FG_SCENARIO_
 * codes: they are renamed to their FG_STACK_ namesakes before being thrown.
 *
 * Simulated workers are checked by the simulator itself (resolveConfig): a configuration vLLM
 * would refuse to start with (a model that does not fit, a quantization the GPU lacks) is an
 * issue at that worker's `sim`, found at load time instead of at `stack up`.
 */

import fs from 'node:fs';
import nodePath from 'node:path';
import { isMap, type YAMLSeq } from 'yaml';
import { ConfigError, type ConfigIssue } from '../../harness/errors.ts';
import { childPath, describe, MapView, scalarValue, NodeReader } from '../../harness/scenario/yaml-node-reader.ts';
import { nearest } from '../../harness/util/did-you-mean.ts';
import { GPUS, getGpu } from '../worker-sim/gpu-catalog.ts';
import { MODELS, getModel } from '../worker-sim/model-catalog.ts';
import { KV_CACHE_DTYPES, WEIGHT_QUANTS } from '../worker-sim/quantization.ts';
import { resolveConfig, SimConfigError, type SimEngineConfig, type SimEngineOptions } from '../worker-sim/sim-engine.ts';
import type { FaultConfig } from '../worker-sim/fault-injection.ts';
import { openYamlDocument, readConfigFile } from '../../harness/scenario/yaml-document.ts';
import { deepFreeze } from '../../harness/util/deep-freeze.ts';
import type {
  GatewayConfig,
  ModelConfig,
  RoutingPolicy,
  StackConfig,
  TenantConfig,
  WorkerConfig,
} from './stack-types.ts';

/** Options of loadStack / parseStack. */
export interface StackLoadOptions {
  /** Variables for `${VAR}` interpolation. Default: process.env. */
  env?: Record<string, string | undefined>;
}

export const STACK_TOP_KEYS = ['name', 'description', 'currency', 'models', 'workers', 'gateway', 'tenants'] as const;
export const MODEL_KEYS = ['name', 'aliases', 'served_model_name', 'workers', 'fallback', 'context_length', 'price'] as const;
export const PRICE_KEYS = ['input_per_1m', 'output_per_1m'] as const;
export const WORKER_KEYS = ['name', 'sim', 'url', 'metrics_url', 'max_in_flight', 'port'] as const;
export const SIM_KEYS = [
  'gpu', 'model', 'served_model_name', 'quantization', 'kv_cache_dtype', 'tensor_parallel_size',
  'max_num_seqs', 'max_num_batched_tokens', 'enable_chunked_prefill', 'enable_prefix_caching',
  'gpu_memory_utilization', 'max_model_len', 'scheduling_policy', 'block_size', 'time_scale', 'seed', 'faults',
] as const;
export const FAULT_KEYS = [
  'oom_above', 'oom_rate', 'die_after', 'die_after_requests', 'restart_after',
  'slowdown', 'slowdown_from', 'slowdown_for', 'error_rate',
] as const;
export const GATEWAY_KEYS = [
  'host', 'port', 'routing', 'queue', 'timeouts', 'retries', 'health', 'prefix_affinity', 'body_limit', 'usage', 'tls',
] as const;
export const TENANT_KEYS = ['name', 'api_key_hashes', 'allowed_models', 'priority', 'weight', 'limits', 'budget'] as const;
export const ROUTING_POLICIES: readonly RoutingPolicy[] = ['round_robin', 'least_outstanding', 'kv_aware', 'prefix_affinity'];

/** Defaults of every optional field (docs/stack.md lists the same). */
export const STACK_DEFAULTS = {
  currency: 'USD',
  contextLength: 32_768,
  workerPort: 0,
  maxInFlightUrl: 64,
  host: '127.0.0.1',
  gatewayPort: 8080,
  routing: 'least_outstanding' as RoutingPolicy,
  queueMaxDepth: 1000,
  queueTimeoutMs: 30_000,
  connectMs: 5_000,
  firstByteMs: 60_000,
  totalMs: 600_000,
  retriesMax: 2,
  retryBackoffMs: 50,
  healthIntervalMs: 2_000,
  failuresToEject: 3,
  successesToReadmit: 2,
  prefixTokens: 256,
  loadFactor: 1.25,
  bodyLimitBytes: 32 * 1024 * 1024,
  usageDbPath: 'reports/usage.db',
  retentionDays: 30,
  defaultPriority: 5,
  weight: 1,
  alertThreshold: 0.8,
} as const;

const NAME = /^[A-Za-z0-9._-]+$/;
const NAME_ALLOWED = 'a name of letters, digits, ".", "_" and "-"';
const MODEL_NAME = /^[^\s*]+$/;
const MODEL_NAME_ALLOWED = 'a model name without spaces or "*", e.g. llama-3.1-8b or meta-llama/Llama-3.1-8B-Instruct';
const KEY_HASH = /^sha256:[0-9a-f]{64}$/i;
const KEY_HASH_ALLOWED = '"sha256:" followed by the 64 hex digits of the key\'s SHA-256';
const BYTE_SIZE = /^(\d+(?:\.\d+)?)\s*(B|KiB|MiB|GiB)?$/;
const BYTE_FACTOR: Record<string, number> = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/**
 * Read, validate and freeze the stack file at `path`.
 * @throws ConfigError with every issue (FG_STACK_NOT_FOUND when the file cannot be read).
 */
export function loadStack(path: string, options: StackLoadOptions = {}): StackConfig {
  const text = readConfigFile(path, 'FG_STACK_NOT_FOUND', 'stack');
  return parseStack(text, path, options);
}

/**
 * Validate and freeze a stack given as YAML text; `file` names it in messages and StackConfig.file.
 * @throws ConfigError with every issue.
 */
export function parseStack(text: string, file: string, options: StackLoadOptions = {}): StackConfig {
  const env = options.env ?? process.env;
  const { doc, reader: r } = openYamlDocument(text, file, env, 'FG_STACK_YAML_SYNTAX', stackIssues);
  const stack = readStack(r, doc.contents, file);
  if (r.issues.length > 0 || !stack) throw new ConfigError(stackIssues(r.issues));
  return deepFreeze(stack);
}

/** The reader's FG_SCENARIO_ codes renamed to their FG_STACK_ namesakes. */
function stackIssues(issues: readonly ConfigIssue[]): ConfigIssue[] {
  return issues.map((i) => ({ ...i, code: i.code.replace(/^FG_SCENARIO_([A-Z0-9_]+)$/, (_, rest: string) => `FG_STACK_${rest}`) }));
}

// ---------------------------------------------------------------------------------------------

/** A name and the node it was written at, for uniqueness and reference checks. */
interface Named {
  name: string;
  node: unknown;
  path: string;
}

interface ModelRead {
  config: Partial<ModelConfig> & { name?: string };
  name: Named | undefined;
  aliases: Named[];
  workerRefs: Named[];
  fallbackRefs: Named[];
  contextNode: unknown;
  contextPath: string;
  /** Where served_model_name was written (the model's name node when defaulted). */
  servedNode: unknown;
  servedPath: string;
}

interface WorkerRead {
  config: WorkerConfig | undefined;
  name: Named | undefined;
  /** The simulator's resolved configuration (for max_model_len checks), when the sim is valid. */
  resolved: SimEngineConfig | undefined;
  portNode: unknown;
}

function readStack(r: NodeReader, rootNode: unknown, file: string): StackConfig | undefined {
  const root = r.deref(rootNode);
  if (!isMap(root)) {
    r.report('FG_STACK_TYPE', { file, line: 1, col: 1 }, '', `a stack must be a map of keys (name, models, workers, gateway, tenants), got ${describe(root)}`, {
      value: scalarValue(root),
      allowed: `a map with keys ${STACK_TOP_KEYS.join(', ')}`,
    });
    return undefined;
  }
  const m = new MapView(r, root, '');
  m.checkKeys(STACK_TOP_KEYS);

  const nameNode = m.need('name', NAME_ALLOWED);
  const name = nameNode && r.str(nameNode, 'name');
  if (name !== undefined && !NAME.test(name)) {
    r.report('FG_STACK_BAD_VALUE', nameNode, 'name', `stack name ${JSON.stringify(name)} has characters other than letters, digits, ".", "_" and "-"`, { value: name, allowed: NAME_ALLOWED });
  }
  m.str('description');
  const currencyNode = m.get('currency');
  let currency: string = STACK_DEFAULTS.currency;
  if (currencyNode) {
    const c = r.str(currencyNode, 'currency');
    if (c !== undefined && !/^[A-Z]{3}$/.test(c)) {
      r.report('FG_STACK_BAD_VALUE', currencyNode, 'currency', `${JSON.stringify(c)} is not a currency code`, { value: c, allowed: 'a three-letter ISO 4217 code such as USD or EUR' });
    } else if (c !== undefined) currency = c;
  }

  const workerSeq = m.seq('workers', true);
  const workers = workerSeq ? readList(r, workerSeq, 'workers', 'a worker', (w) => readWorker(w)) : [];
  const modelSeq = m.seq('models', true);
  const models = modelSeq ? readList(r, modelSeq, 'models', 'a model', (mm) => readModel(mm)) : [];
  const gatewayMap = m.map('gateway');
  const gateway = readGateway(gatewayMap, r, file);
  const tenantSeq = m.seq('tenants');
  const tenants = tenantSeq ? readList(r, tenantSeq, 'tenants', 'a tenant', (t) => readTenant(t)) : [];

  // Names are unique within workers, within models (names and aliases share one namespace),
  // within tenants; a port is used by one listener.
  unique(r, workers.flatMap((w) => (w.name ? [w.name] : [])), 'worker name');
  unique(r, models.flatMap((x) => [...(x.name ? [x.name] : []), ...x.aliases]), 'model name or alias');
  unique(r, tenants.flatMap((t) => (t.name ? [t.name] : [])), 'tenant name');
  unique(r, tenants.flatMap((t) => t.hashes), 'API key hash', 'a key must identify one tenant');
  const ports: Named[] = [];
  if (gateway.config && gateway.config.port !== 0) ports.push({ name: String(gateway.config.port), node: gateway.portNode, path: 'gateway.port' });
  workers.forEach((w, i) => {
    if (w.config?.kind === 'sim' && w.config.port !== 0) ports.push({ name: String(w.config.port), node: w.portNode, path: `workers[${i}].port` });
  });
  unique(r, ports, 'port', 'two listeners cannot share a port on one host');

  // References: model -> workers, model -> fallback models, tenant -> models.
  const workerNames = workers.flatMap((w) => (w.name ? [w.name.name] : []));
  const canonical = new Map<string, string>();
  for (const x of models) {
    if (x.config.name === undefined) continue;
    canonical.set(x.config.name, x.config.name);
    for (const a of x.config.aliases ?? []) if (!canonical.has(a)) canonical.set(a, x.config.name);
  }
  const knownModels = [...canonical.keys()];
  const workerByName = new Map(workers.flatMap((w) => (w.name ? [[w.name.name, w] as const] : [])));
  const simNamesWanted = new Map<string, { served: string }[]>();
  for (const x of models) {
    for (const ref of x.workerRefs) {
      if (!workerByName.has(ref.name)) badReference(r, ref, 'worker', workerNames);
    }
    for (const ref of x.fallbackRefs) {
      if (!canonical.has(ref.name)) badReference(r, ref, 'model', knownModels);
    }
    // The gateway sends the model's served name upstream: every simulated worker must serve it.
    // A worker that names itself (sim.served_model_name) must match; one that does not also
    // answers to the model's served name (below).
    const served = x.config.servedModelName;
    if (served !== undefined) {
      for (const ref of x.workerRefs) {
        const w = workerByName.get(ref.name);
        const res = w?.resolved;
        if (res === undefined || w?.config?.kind !== 'sim') continue;
        const catalogue = [res.model.id, res.model.hfName];
        if (w.config.sim.servedModelName === undefined) {
          if (!catalogue.includes(served)) (simNamesWanted.get(ref.name) ?? simNamesWanted.set(ref.name, []).get(ref.name)!).push({ served });
          continue;
        }
        const names = [res.servedModelName, ...catalogue];
        if (!names.includes(served)) {
          r.report('FG_STACK_CONFLICT', x.servedNode, x.servedPath, `the gateway sends model "${x.config.name}" to worker "${ref.name}" as "${served}", which that worker does not serve (it serves ${[...new Set(names)].map((n) => `"${n}"`).join(', ')})`, {
            value: served,
            allowed: `one of the worker's names: set the model's served_model_name, or the worker's sim.served_model_name, to the same name`,
          });
        }
      }
    }
    // The gateway admits prompts up to context_length: every simulated worker must hold that many.
    const ctx = x.config.contextLength;
    if (ctx !== undefined) {
      for (const ref of x.workerRefs) {
        const w = workerByName.get(ref.name);
        if (w?.resolved && w.resolved.maxModelLen < ctx) {
          r.report('FG_STACK_CONFLICT', x.contextNode, x.contextPath, `context_length ${ctx} is more than worker "${ref.name}" holds (its max_model_len is ${w.resolved.maxModelLen})`, {
            value: ctx,
            allowed: `at most ${w.resolved.maxModelLen}, or a larger max_model_len on the worker`,
          });
        }
      }
    }
  }
  // Simulated workers without a served_model_name also answer to the names their models send them.
  for (const [workerName, wants] of simNamesWanted) {
    const w = workerByName.get(workerName)!;
    if (w.config?.kind === 'sim') (w.config.sim as { extraServedNames?: readonly string[] }).extraServedNames = [...new Set(wants.map((x) => x.served))];
  }
  fallbackCycles(r, models, canonical);
  for (const t of tenants) {
    for (const ref of t.modelRefs) {
      if (!canonical.has(ref.name)) badReference(r, ref, 'model', knownModels);
    }
  }

  if (r.issues.length > 0 || name === undefined || !gateway.config) return undefined;
  return {
    name,
    file,
    currency,
    models: models.map((x) => ({
      ...(x.config as ModelConfig),
      fallback: x.fallbackRefs.map((f) => canonical.get(f.name)!),
    })),
    workers: workers.map((w) => w.config!),
    gateway: gateway.config,
    tenants: tenants.map((t) => t.config!),
  };
}

/** Read each item of a list of maps; a non-map item is a TYPE issue. An empty list is MISSING_FIELD. */
function readList<T>(r: NodeReader, seq: YAMLSeq, path: string, what: string, read: (m: MapView) => T): T[] {
  if (seq.items.length === 0 && path !== 'tenants') {
    r.report('FG_STACK_MISSING_FIELD', seq, path, `"${path}" must list at least one entry`, { allowed: `a list of at least one ${what.slice(2)}` });
  }
  const out: T[] = [];
  seq.items.forEach((item, i) => {
    const p = childPath(path, i);
    const m = r.asMap(item, p, `${what} (a map)`);
    if (m) out.push(read(m));
  });
  return out;
}

/** Every later occurrence of a name already used is a CONFLICT at that occurrence. */
function unique(r: NodeReader, items: readonly Named[], what: string, why?: string): void {
  const first = new Map<string, Named>();
  for (const item of items) {
    const prior = first.get(item.name);
    if (!prior) {
      first.set(item.name, item);
      continue;
    }
    const at = r.where(prior.node);
    r.report('FG_STACK_CONFLICT', item.node, item.path, `${what} ${JSON.stringify(item.name)} is already used at line ${at.line} (${prior.path})${why ? `; ${why}` : ''}`, {
      value: item.name,
      allowed: `each ${what} used once`,
    });
  }
}

function badReference(r: NodeReader, ref: Named, what: 'worker' | 'model', known: readonly string[]): void {
  const hint = nearest(ref.name, known);
  r.report('FG_STACK_BAD_REFERENCE', ref.node, ref.path, `no ${what} is named ${JSON.stringify(ref.name)}${hint ? ` (did you mean "${hint}"?)` : ''}`, {
    value: ref.name,
    allowed: known.length ? `one of the stack's ${what}s: ${known.join(', ')}` : `a ${what} defined in the stack`,
  });
}

/** Each fallback edge that closes a cycle is reported once, with the cycle spelled out. */
function fallbackCycles(r: NodeReader, models: readonly ModelRead[], canonical: ReadonlyMap<string, string>): void {
  const edges = new Map<string, Named[]>();
  for (const x of models) {
    if (x.config.name === undefined || edges.has(x.config.name)) continue;
    edges.set(x.config.name, x.fallbackRefs.filter((f) => canonical.has(f.name)));
  }
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'open');
    stack.push(name);
    for (const ref of edges.get(name) ?? []) {
      const to = canonical.get(ref.name)!;
      const s = state.get(to);
      if (s === 'open') {
        const cycle = [...stack.slice(stack.indexOf(to)), to].join(' -> ');
        r.report('FG_STACK_BAD_REFERENCE', ref.node, ref.path, `fallback cycle: ${cycle}`, {
          value: ref.name,
          allowed: 'fallback chains that end (no model falls back to itself, directly or through others)',
        });
      } else if (s === undefined) {
        visit(to);
      }
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of edges.keys()) if (!state.has(name)) visit(name);
}

/** A list of strings (or one string, as a one-item list); each with its node and path. */
function readNames(m: MapView, key: string, required: boolean): Named[] | undefined {
  const node = required ? m.need(key, 'a list of names') : m.get(key);
  if (node === undefined) return undefined;
  const path = m.pathOf(key);
  const seq = m.r.asSeq(node, path, 'a list of names');
  if (!seq) return undefined;
  const out: Named[] = [];
  seq.items.forEach((item, i) => {
    const p = childPath(path, i);
    const s = m.r.str(item, p);
    if (s === undefined) return;
    if (s.trim() === '') {
      m.r.report('FG_STACK_BAD_VALUE', item, p, 'an empty value (an unset environment variable?)', { value: s, allowed: 'a non-empty name' });
      return;
    }
    out.push({ name: s, node: m.r.deref(item) ?? item, path: p });
  });
  return out;
}

// --- models ----------------------------------------------------------------------------------

function readModel(m: MapView): ModelRead {
  const r = m.r;
  m.checkKeys(MODEL_KEYS);
  const nameNode = m.need('name', MODEL_NAME_ALLOWED);
  let name = nameNode && r.str(nameNode, m.pathOf('name'));
  if (name !== undefined && !MODEL_NAME.test(name)) {
    r.report('FG_STACK_BAD_VALUE', nameNode, m.pathOf('name'), `model name ${JSON.stringify(name)} has spaces or "*"`, { value: name, allowed: MODEL_NAME_ALLOWED });
    name = undefined;
  }
  const aliases = (readNames(m, 'aliases', false) ?? []).filter((a) => {
    if (MODEL_NAME.test(a.name)) return true;
    r.report('FG_STACK_BAD_VALUE', a.node, a.path, `alias ${JSON.stringify(a.name)} has spaces or "*"`, { value: a.name, allowed: MODEL_NAME_ALLOWED });
    return false;
  });
  const workerRefs = readNames(m, 'workers', true) ?? [];
  if (m.has('workers') && workerRefs.length === 0 && r.issues.every((i) => i.path !== m.pathOf('workers'))) {
    m.missing('workers', '"workers" must name at least one worker', 'a list of worker names');
  }
  const fallbackRefs = readNames(m, 'fallback', false) ?? [];
  const servedGiven = m.str('served_model_name');
  const servedModelName = servedGiven !== undefined && servedGiven.trim() !== '' ? servedGiven : name;
  const contextLength = m.num('context_length', { integer: true, min: 1 }) ?? STACK_DEFAULTS.contextLength;
  const priceMap = m.map('price');
  let priceInputPer1M = 0;
  let priceOutputPer1M = 0;
  if (priceMap) {
    priceMap.checkKeys(PRICE_KEYS);
    priceInputPer1M = priceMap.num('input_per_1m', { min: 0 }) ?? 0;
    priceOutputPer1M = priceMap.num('output_per_1m', { min: 0 }) ?? 0;
  }
  return {
    config: {
      name,
      aliases: aliases.map((a) => a.name),
      ...(servedModelName !== undefined ? { servedModelName } : {}),
      workers: workerRefs.map((w) => w.name),
      fallback: fallbackRefs.map((f) => f.name),
      contextLength,
      priceInputPer1M,
      priceOutputPer1M,
    },
    name: name === undefined ? undefined : { name, node: nameNode, path: m.pathOf('name') },
    servedNode: servedGiven !== undefined ? m.get('served_model_name') : nameNode,
    servedPath: servedGiven !== undefined ? m.pathOf('served_model_name') : m.pathOf('name'),
    aliases,
    workerRefs,
    fallbackRefs,
    contextNode: m.get('context_length') ?? nameNode ?? m.node,
    contextPath: m.pathOf('context_length'),
  };
}

// --- workers ---------------------------------------------------------------------------------

/** An entry's `name`: required, letters, digits, ".", "_" and "-" only (`kind` names the entry). */
function readEntryName(m: MapView, kind: string): Named | undefined {
  const r = m.r;
  const nameNode = m.need('name', NAME_ALLOWED);
  const nameText = nameNode && r.str(nameNode, m.pathOf('name'));
  if (nameText === undefined) return undefined;
  if (!NAME.test(nameText)) {
    r.report('FG_STACK_BAD_VALUE', nameNode, m.pathOf('name'), `${kind} name ${JSON.stringify(nameText)} has characters other than letters, digits, ".", "_" and "-"`, { value: nameText, allowed: NAME_ALLOWED });
    return undefined;
  }
  return { name: nameText, node: nameNode, path: m.pathOf('name') };
}

function readWorker(m: MapView): WorkerRead {
  const r = m.r;
  m.checkKeys(WORKER_KEYS);
  const name = readEntryName(m, 'worker');
  const maxInFlight = m.num('max_in_flight', { integer: true, min: 1 });
  const hasSim = m.has('sim');
  const hasUrl = m.has('url');
  const result: WorkerRead = { config: undefined, name, resolved: undefined, portNode: m.get('port') };

  if (hasSim && hasUrl) {
    r.report('FG_STACK_CONFLICT', m.keyNode('url'), m.pathOf('url'), 'a worker is either simulated ("sim") or a real server ("url"), not both', {
      allowed: 'exactly one of sim, url',
    });
  } else if (!hasSim && !hasUrl) {
    r.report('FG_STACK_MISSING_FIELD', m.node, m.pathOf('sim'), 'a worker needs "sim" (a simulated vLLM) or "url" (a real one)', { allowed: 'exactly one of sim, url' });
  }
  if (hasUrl && m.has('port')) {
    r.report('FG_STACK_CONFLICT', m.keyNode('port'), m.pathOf('port'), '"port" applies to simulated workers only; a real server\'s port is in its url', { allowed: 'port with sim only' });
  }
  if (hasSim && m.has('metrics_url')) {
    r.report('FG_STACK_CONFLICT', m.keyNode('metrics_url'), m.pathOf('metrics_url'), '"metrics_url" applies to real servers only; a simulated worker serves its own /metrics', { allowed: 'metrics_url with url only' });
  }

  if (hasSim && !hasUrl) {
    const port = m.num('port', { integer: true, min: 0, max: 65_535 }) ?? STACK_DEFAULTS.workerPort;
    const simNode = m.get('sim');
    const simMap = m.map('sim');
    const sim = simMap && readSim(simMap);
    if (sim) {
      try {
        result.resolved = resolveConfig(sim);
      } catch (err) {
        if (!(err instanceof SimConfigError)) throw err;
        r.report('FG_STACK_BAD_VALUE', simNode, m.pathOf('sim'), `vLLM would refuse this configuration: ${err.message}`, {
          allowed: 'a GPU, model, quantization, tensor parallelism and max_model_len that vLLM can start with (docs/simulator.md)',
        });
      }
    }
    if (sim && name && result.resolved) {
      result.config = { name: name.name, kind: 'sim', sim, port, maxInFlight: maxInFlight ?? result.resolved.maxNumSeqs };
    }
  } else if (hasUrl && !hasSim) {
    const url = readHttpUrl(m, 'url');
    const metrics = m.has('metrics_url') ? readHttpUrl(m, 'metrics_url') : undefined;
    if (url && name && metrics !== null) {
      result.config = {
        name: name.name,
        kind: 'url',
        url,
        metricsUrl: metrics ?? `${new URL(url).origin}/metrics`,
        maxInFlight: maxInFlight ?? STACK_DEFAULTS.maxInFlightUrl,
      };
    }
  }
  return result;
}

/** An http(s) URL without query or fragment, trailing slashes removed; null when invalid. */
function readHttpUrl(m: MapView, key: string): string | null {
  const node = m.get(key);
  const path = m.pathOf(key);
  const text = node && m.r.str(node, path);
  if (text === undefined) return null;
  const allowed = 'an http:// or https:// URL without query or fragment, e.g. http://10.0.0.5:8000/v1';
  let parsed: URL | undefined;
  try {
    parsed = new URL(text.trim());
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.search || parsed.hash) {
    m.r.report('FG_STACK_BAD_VALUE', node, path, `${JSON.stringify(text)} is not an http(s) URL without query or fragment`, { value: text, allowed });
    return null;
  }
  return text.trim().replace(/\/+$/, '');
}

/** The simulated worker's options; undefined when any of them is invalid (issues recorded). */
function readSim(m: MapView): SimEngineOptions | undefined {
  const r = m.r;
  const before = r.issues.length;
  m.checkKeys(SIM_KEYS);
  const gpu = catalogueName(m, 'gpu', Object.keys(GPUS), (id) => getGpu(id) !== undefined, 'GPU');
  const model = catalogueName(m, 'model', Object.keys(MODELS), (id) => getModel(id) !== undefined, 'model');
  const o: SimEngineOptions = { gpu: gpu ?? '', model: model ?? '' };
  const set = <K extends keyof SimEngineOptions>(k: K, v: SimEngineOptions[K] | undefined): void => {
    if (v !== undefined) o[k] = v;
  };
  const served = m.str('served_model_name');
  if (served !== undefined && served.trim() !== '') o.servedModelName = served;
  set('quantization', m.oneOf('quantization', WEIGHT_QUANTS));
  set('kvCacheDtype', m.oneOf('kv_cache_dtype', KV_CACHE_DTYPES));
  set('tensorParallelSize', m.num('tensor_parallel_size', { integer: true, min: 1, max: 64 }));
  set('maxNumSeqs', m.num('max_num_seqs', { integer: true, min: 1 }));
  set('maxNumBatchedTokens', m.num('max_num_batched_tokens', { integer: true, min: 1 }));
  set('enableChunkedPrefill', m.bool('enable_chunked_prefill'));
  set('enablePrefixCaching', m.bool('enable_prefix_caching'));
  set('gpuMemoryUtilization', m.num('gpu_memory_utilization', { min: 0, minExclusive: true, max: 1 }));
  set('maxModelLen', m.num('max_model_len', { integer: true, min: 1 }));
  set('schedulingPolicy', m.oneOf('scheduling_policy', ['fcfs', 'priority'] as const));
  set('blockSize', m.num('block_size', { integer: true, min: 1 }));
  set('timeScale', m.num('time_scale', { min: 0, minExclusive: true }));
  set('seed', m.num('seed', { integer: true, min: 0 }));
  const faultsMap = m.map('faults');
  if (faultsMap) set('faults', readFaults(faultsMap));
  if (r.issues.length > before || gpu === undefined || model === undefined) return undefined;
  return o;
}

/** A required catalogue id, checked with did-you-mean. */
function catalogueName(m: MapView, key: string, ids: readonly string[], known: (id: string) => boolean, what: string): string | undefined {
  const node = m.need(key, `a ${what} from the catalogue: ${ids.join(', ')}`);
  const text = node && m.r.str(node, m.pathOf(key));
  if (text === undefined) return undefined;
  if (known(text)) return text;
  const hint = nearest(text.toLowerCase(), ids);
  m.r.report('FG_STACK_BAD_VALUE', node, m.pathOf(key), `unknown ${what} ${JSON.stringify(text)}${hint ? ` (did you mean "${hint}"?)` : ''}`, {
    value: text,
    allowed: ids.join(', '),
  });
  return undefined;
}

function readFaults(m: MapView): FaultConfig {
  m.checkKeys(FAULT_KEYS);
  const f: FaultConfig = {};
  const oomAbove = m.num('oom_above', { integer: true, min: 1 });
  const oomRate = m.num('oom_rate', { min: 0, max: 1 });
  if (oomAbove !== undefined || oomRate !== undefined) {
    f.oom = {};
    if (oomAbove !== undefined) f.oom.abovePromptTokens = oomAbove;
    if (oomRate !== undefined) f.oom.rate = oomRate;
  }
  const dieAfter = m.duration('die_after', { positive: true });
  const dieAfterRequests = m.num('die_after_requests', { integer: true, min: 1 });
  const restartAfter = m.duration('restart_after', { positive: true });
  if (m.has('restart_after') && !m.has('die_after') && !m.has('die_after_requests')) {
    m.r.report('FG_STACK_CONFLICT', m.keyNode('restart_after'), m.pathOf('restart_after'), '"restart_after" only applies when the worker dies (die_after or die_after_requests)', {
      allowed: 'restart_after with die_after or die_after_requests',
    });
  }
  if (dieAfter !== undefined || dieAfterRequests !== undefined) {
    f.death = {};
    if (dieAfter !== undefined) f.death.afterS = dieAfter / 1000;
    if (dieAfterRequests !== undefined) f.death.afterRequests = dieAfterRequests;
    if (restartAfter !== undefined) f.death.restartAfterS = restartAfter / 1000;
  }
  const factor = m.num('slowdown', { min: 0, minExclusive: true });
  const from = m.duration('slowdown_from');
  const forMs = m.duration('slowdown_for', { positive: true });
  for (const k of ['slowdown_from', 'slowdown_for']) {
    if (m.has(k) && !m.has('slowdown')) {
      m.r.report('FG_STACK_CONFLICT', m.keyNode(k), m.pathOf(k), `"${k}" only applies with "slowdown" (the factor)`, { allowed: `${k} with slowdown` });
    }
  }
  if (factor !== undefined) {
    f.slowdown = { factor };
    if (from !== undefined) f.slowdown.fromS = from / 1000;
    if (forMs !== undefined) f.slowdown.forS = forMs / 1000;
  }
  const errMap = m.map('error_rate');
  if (errMap) {
    errMap.checkKeys(['status', 'rate']);
    const status = errMap.num('status', { integer: true, min: 400, max: 599 }, true);
    const rate = errMap.num('rate', { min: 0, max: 1 }, true);
    if (status !== undefined && rate !== undefined) f.errors = { status, rate };
  }
  return f;
}

// --- gateway ---------------------------------------------------------------------------------

function readGateway(m: MapView | undefined, r: NodeReader, file: string): { config: GatewayConfig | undefined; portNode: unknown } {
  const D = STACK_DEFAULTS;
  if (!m) {
    // Every field defaulted (an absent or mistyped `gateway`: a TYPE issue is then recorded).
    return {
      config: r.issues.some((i) => i.path === 'gateway') ? undefined : {
        host: D.host,
        port: D.gatewayPort,
        routing: D.routing,
        queue: { maxDepth: D.queueMaxDepth, timeoutMs: D.queueTimeoutMs },
        timeouts: { connectMs: D.connectMs, firstByteMs: D.firstByteMs, totalMs: D.totalMs },
        retries: { max: D.retriesMax, backoffMs: D.retryBackoffMs },
        health: { intervalMs: D.healthIntervalMs, failuresToEject: D.failuresToEject, successesToReadmit: D.successesToReadmit },
        prefixAffinity: { prefixTokens: D.prefixTokens, loadFactor: D.loadFactor },
        bodyLimitBytes: D.bodyLimitBytes,
        usage: { dbPath: D.usageDbPath, retentionDays: D.retentionDays },
        tls: undefined,
      },
      portNode: undefined,
    };
  }
  m.checkKeys(GATEWAY_KEYS);
  const host = m.str('host') ?? D.host;
  const port = m.num('port', { integer: true, min: 0, max: 65_535 }) ?? D.gatewayPort;
  const routing = m.oneOf('routing', ROUTING_POLICIES) ?? D.routing;

  const q = m.map('queue');
  q?.checkKeys(['max_depth', 'timeout']);
  const queue = {
    maxDepth: q?.num('max_depth', { integer: true, min: 0 }) ?? D.queueMaxDepth,
    timeoutMs: q?.duration('timeout', { positive: true }) ?? D.queueTimeoutMs,
  };
  const t = m.map('timeouts');
  t?.checkKeys(['connect', 'first_byte', 'total']);
  const timeouts = {
    connectMs: t?.duration('connect', { positive: true }) ?? D.connectMs,
    firstByteMs: t?.duration('first_byte', { positive: true }) ?? D.firstByteMs,
    totalMs: t?.duration('total', { positive: true }) ?? D.totalMs,
  };
  if (t && timeouts.firstByteMs > timeouts.totalMs) {
    const key = t.has('first_byte') ? 'first_byte' : 'total';
    r.report('FG_STACK_CONFLICT', t.get(key), t.pathOf(key), `first_byte (${timeouts.firstByteMs} ms) is longer than total (${timeouts.totalMs} ms)`, { allowed: 'first_byte <= total' });
  }
  const re = m.map('retries');
  re?.checkKeys(['max', 'backoff']);
  const retries = {
    max: re?.num('max', { integer: true, min: 0, max: 10 }) ?? D.retriesMax,
    backoffMs: re?.duration('backoff') ?? D.retryBackoffMs,
  };
  const h = m.map('health');
  h?.checkKeys(['interval', 'failures_to_eject', 'successes_to_readmit']);
  const health = {
    intervalMs: h?.duration('interval', { positive: true }) ?? D.healthIntervalMs,
    failuresToEject: h?.num('failures_to_eject', { integer: true, min: 1 }) ?? D.failuresToEject,
    successesToReadmit: h?.num('successes_to_readmit', { integer: true, min: 1 }) ?? D.successesToReadmit,
  };
  const pa = m.map('prefix_affinity');
  pa?.checkKeys(['prefix_tokens', 'load_factor']);
  const prefixAffinity = {
    prefixTokens: pa?.num('prefix_tokens', { integer: true, min: 1 }) ?? D.prefixTokens,
    loadFactor: pa?.num('load_factor', { min: 1 }) ?? D.loadFactor,
  };
  const bodyLimitBytes = readByteSize(m, 'body_limit') ?? D.bodyLimitBytes;
  const u = m.map('usage');
  u?.checkKeys(['db', 'retention_days']);
  const db = u?.str('db');
  const usage = {
    dbPath: db && db.trim() !== '' ? db : D.usageDbPath,
    retentionDays: u?.num('retention_days', { integer: true, min: 1 }) ?? D.retentionDays,
  };
  const tlsMap = m.map('tls');
  let tls: GatewayConfig['tls'];
  if (tlsMap) {
    tlsMap.checkKeys(['cert', 'key']);
    // PEM files, relative to the stack file's folder; read at start, so checked readable here.
    const readable = (field: 'cert' | 'key'): string | undefined => {
      const given = tlsMap.str(field, true);
      if (given === undefined) return undefined;
      const resolved = nodePath.resolve(nodePath.dirname(file), given);
      try {
        fs.accessSync(resolved, fs.constants.R_OK);
        if (!fs.statSync(resolved).isFile()) throw Object.assign(new Error('not a file'), { code: 'not a file' });
        return resolved;
      } catch (e) {
        r.report('FG_STACK_BAD_VALUE', tlsMap.get(field), `gateway.tls.${field}`, `the TLS ${field === 'cert' ? 'certificate' : 'private key'} file ${resolved} cannot be read (${(e as { code?: string }).code ?? (e as Error).message})`, {
          value: given,
          allowed: 'a readable PEM file; a relative path is read from the stack file\'s folder',
        });
        return undefined;
      }
    };
    const certPath = readable('cert');
    const keyPath = readable('key');
    if (certPath !== undefined && keyPath !== undefined) tls = { certPath, keyPath };
  }
  return {
    config: { host, port, routing, queue, timeouts, retries, health, prefixAffinity, bodyLimitBytes, usage, tls },
    portNode: m.get('port'),
  };
}

/** Bytes from an integer or `<n>B|KiB|MiB|GiB`; undefined when absent or invalid. */
function readByteSize(m: MapView, key: string): number | undefined {
  const node = m.get(key);
  if (node === undefined) return undefined;
  const path = m.pathOf(key);
  const allowed = 'a size in bytes > 0, as an integer or with a unit: 512KiB, 32MiB, 1GiB';
  const v = m.r.deref(node);
  const raw = v && 'value' in v ? (v as { value: unknown }).value : undefined;
  let bytes: number | undefined;
  if (typeof raw === 'number') bytes = raw;
  else if (typeof raw === 'string') {
    const mm = BYTE_SIZE.exec(raw.trim());
    if (mm) bytes = Number(mm[1]) * BYTE_FACTOR[mm[2] ?? 'B']!;
  }
  if (bytes === undefined || !Number.isFinite(bytes) || !Number.isInteger(bytes) || bytes <= 0) {
    m.r.report('FG_STACK_BAD_VALUE', node, path, `${describe(v)} is not a size`, { value: raw, allowed });
    return undefined;
  }
  return bytes;
}

// --- tenants ---------------------------------------------------------------------------------

interface TenantRead {
  config: TenantConfig | undefined;
  name: Named | undefined;
  hashes: Named[];
  modelRefs: Named[];
}

function readTenant(m: MapView): TenantRead {
  const r = m.r;
  const before = r.issues.length;
  m.checkKeys(TENANT_KEYS);
  const name = readEntryName(m, 'tenant');

  const hashes: Named[] = [];
  const hashRefs = readNames(m, 'api_key_hashes', true);
  if (hashRefs && hashRefs.length === 0 && m.has('api_key_hashes')) {
    m.missing('api_key_hashes', '"api_key_hashes" must hold at least one key hash', KEY_HASH_ALLOWED);
  }
  for (const h of hashRefs ?? []) {
    // A malformed ${...} was reported already: one bad value, one issue.
    if (r.issues.some((i) => i.path === h.path)) continue;
    const text = h.name.trim();
    if (!KEY_HASH.test(text)) {
      const why = !text.toLowerCase().startsWith('sha256:')
        ? 'lacks the "sha256:" prefix'
        : `has ${text.length - 7} characters after "sha256:" (64 hex digits expected)`;
      const digitsOk = /^sha256:[0-9a-f]*$/i.test(text);
      r.report('FG_STACK_BAD_VALUE', h.node, h.path, `key hash ${JSON.stringify(abbreviate(text))} ${digitsOk ? why : text.toLowerCase().startsWith('sha256:') ? 'has characters other than hex digits' : why}; store the hash, never the key`, {
        value: abbreviate(text),
        allowed: KEY_HASH_ALLOWED,
      });
      continue;
    }
    hashes.push({ ...h, name: text.slice(7).toLowerCase() });
  }

  let allowedModels: TenantConfig['allowedModels'] = '*';
  const modelRefs: Named[] = [];
  const amNode = m.get('allowed_models');
  if (amNode && 'value' in amNode && amNode.value === '*') {
    allowedModels = '*';
  } else if (amNode) {
    const refs = readNames(m, 'allowed_models', false) ?? [];
    modelRefs.push(...refs.filter((x) => x.name !== '*'));
    for (const x of refs) {
      if (x.name === '*') r.report('FG_STACK_BAD_VALUE', x.node, x.path, '"*" cannot be mixed with model names', { value: '*', allowed: 'allowed_models: "*" alone, or a list of model names' });
    }
    allowedModels = refs.map((x) => x.name);
  }

  const pr = m.map('priority');
  pr?.checkKeys(['default', 'max']);
  const defaultPriority = pr?.num('default', { integer: true, min: 0, max: 9 }) ?? STACK_DEFAULTS.defaultPriority;
  const maxRead = pr?.num('max', { integer: true, min: 0, max: 9 });
  const maxPriority = maxRead ?? defaultPriority;
  if (pr && maxRead !== undefined && maxPriority > defaultPriority) {
    r.report('FG_STACK_CONFLICT', pr.get('max'), pr.pathOf('max'), `max ${maxPriority} is less urgent than default ${defaultPriority} (class 0 is served first; max is the most urgent class the tenant may ask for)`, {
      value: maxPriority,
      allowed: `an integer from 0 to ${defaultPriority} (at most default)`,
    });
  }
  const weight = m.num('weight', { min: 0, minExclusive: true }) ?? STACK_DEFAULTS.weight;
  const lim = m.map('limits');
  lim?.checkKeys(['rpm', 'tpm', 'max_concurrent']);
  const bud = m.map('budget');
  bud?.checkKeys(['per_day', 'per_month', 'alert_threshold']);
  const config: TenantConfig | undefined = name
    ? {
        name: name.name,
        keyHashes: hashes.map((h) => h.name),
        allowedModels,
        defaultPriority,
        maxPriority,
        weight,
        rpm: lim?.num('rpm', { integer: true, min: 1 }),
        tpm: lim?.num('tpm', { integer: true, min: 1 }),
        maxConcurrent: lim?.num('max_concurrent', { integer: true, min: 1 }),
        budgetPerDay: bud?.num('per_day', { min: 0, minExclusive: true }),
        budgetPerMonth: bud?.num('per_month', { min: 0, minExclusive: true }),
        alertThreshold: bud?.num('alert_threshold', { min: 0, minExclusive: true, max: 1 }) ?? STACK_DEFAULTS.alertThreshold,
      }
    : undefined;
  return { config: r.issues.length > before ? undefined : config, name, hashes, modelRefs };
}

/** A long value shortened for messages (a wrong hash may be a pasted key: show little of it). */
function abbreviate(s: string): string {
  return s.length > 20 ? `${s.slice(0, 12)}...(${s.length} chars)` : s;
}

