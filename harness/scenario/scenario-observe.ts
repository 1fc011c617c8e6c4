/**
 * A scenario's `observe:` block: sampling the target's metrics during the run, and the harness's
 * own /metrics (docs/scenarios.md, "observe").
 *
 *     observe:
 *       interval: 1s                    # between samples (default 1s)
 *       timeout: 500ms                  # per scrape (default: the interval, at most 5s)
 *       endpoints:                      # default: discovered from the target
 *         - {name: gateway, url: http://127.0.0.1:8080/metrics}
 *         - {name: gpu0, url: http://gpu-node:9400/metrics}
 *       prometheus: {url: http://127.0.0.1:9090, step: 1s, rate_window: 20s, queries: {name: promql}}
 *       metrics_listen: 127.0.0.1:9464  # or off / false
 *       enabled: true
 */
import { isScalar } from 'yaml';
import type { ObserveConfig, ObserveEndpoint, ObservePrometheus } from './scenario-types.ts';
import { LISTEN_ALLOWED, parseListen } from '../observe/listen-address.ts';
import { childPath, describe, formatMs, scalarValue, type MapView, type NodeReader } from './yaml-node-reader.ts';

export const OBSERVE_KEYS = ['enabled', 'interval', 'timeout', 'endpoints', 'prometheus', 'metrics_listen'] as const;
export const OBSERVE_ENDPOINT_KEYS = ['name', 'url'] as const;
export const OBSERVE_PROMETHEUS_KEYS = ['url', 'step', 'rate_window', 'queries'] as const;

const MIN_INTERVAL_MS = 50;
const ENDPOINT_NAME = /^[A-Za-z0-9._:#-]+$/;
const QUERY_NAME = /^[a-z_][a-z0-9_]*$/;
const URL_ALLOWED = 'an http:// or https:// URL, e.g. http://127.0.0.1:8080/metrics';

export const OBSERVE_DEFAULT_INTERVAL_MS = 1000;

/** Read `observe` from the top-level map; undefined when absent or invalid (issues recorded). */
export function readObserve(top: MapView): ObserveConfig | undefined {
  const m = top.map('observe');
  if (!m) return undefined;
  const r = m.r;
  const before = r.issues.length;
  m.checkKeys(OBSERVE_KEYS);
  const enabled = m.bool('enabled') ?? true;
  const intervalMs = m.duration('interval', { positive: true }) ?? OBSERVE_DEFAULT_INTERVAL_MS;
  if (intervalMs < MIN_INTERVAL_MS) {
    r.report('FG_SCENARIO_BAD_VALUE', m.get('interval'), m.pathOf('interval'), `interval ${formatMs(intervalMs)} is too short to scrape`, {
      value: formatMs(intervalMs),
      allowed: `a duration of at least ${formatMs(MIN_INTERVAL_MS)}`,
    });
  }
  const timeoutMs = m.duration('timeout', { positive: true });
  const endpointsSeq = m.seq('endpoints');
  const endpoints = endpointsSeq ? readEndpoints(r, endpointsSeq.items, m.pathOf('endpoints')) : undefined;
  const promMap = m.map('prometheus');
  const prometheus = promMap ? readPrometheus(promMap) : undefined;
  if (endpointsSeq && promMap) {
    r.report('FG_SCENARIO_CONFLICT', m.keyNode('prometheus'), m.pathOf('prometheus'), 'observe has endpoints (scraped by the harness) and prometheus (queried from a Prometheus server): one or the other', {
      allowed: 'observe.endpoints or observe.prometheus',
    });
  }
  const metricsListen = readListen(m);
  if (r.issues.length > before) return undefined;
  return { enabled, intervalMs, timeoutMs, endpoints, prometheus, metricsListen };
}

function readHttpUrl(r: NodeReader, node: unknown, path: string): string | undefined {
  const text = r.str(node, path);
  if (text === undefined) return undefined;
  let u: URL | undefined;
  try {
    u = new URL(text.trim());
  } catch {
    u = undefined;
  }
  if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
    r.report('FG_SCENARIO_OBSERVE_URL', r.deref(node), path, `${JSON.stringify(text)} is not an http(s) URL`, { value: text, allowed: URL_ALLOWED });
    return undefined;
  }
  return text.trim();
}

function readEndpoints(r: NodeReader, items: readonly unknown[], path: string): ObserveEndpoint[] {
  const out: ObserveEndpoint[] = [];
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const p = childPath(path, i);
    const em = r.asMap(item, p, 'an endpoint {name, url}');
    if (!em) return;
    em.checkKeys(OBSERVE_ENDPOINT_KEYS);
    const urlNode = em.need('url', URL_ALLOWED);
    const url = urlNode === undefined ? undefined : readHttpUrl(r, urlNode, em.pathOf('url'));
    let name = em.str('name');
    if (name !== undefined && !ENDPOINT_NAME.test(name)) {
      r.report('FG_SCENARIO_BAD_VALUE', em.get('name'), em.pathOf('name'), `endpoint name ${JSON.stringify(name)} has characters a report key should not`, {
        value: name,
        allowed: 'letters, digits, ".", "_", ":", "#" and "-"',
      });
      name = undefined;
    }
    if (url === undefined) return;
    const finalName = name ?? new URL(url).host;
    const first = seen.get(finalName);
    if (first !== undefined) {
      r.report('FG_SCENARIO_BAD_VALUE', em.get('name') ?? em.node, em.has('name') ? em.pathOf('name') : p, `endpoint name "${finalName}" is already used by ${childPath(path, first)}`, {
        value: finalName,
        allowed: 'a name no other endpoint has',
      });
      return;
    }
    seen.set(finalName, i);
    out.push({ name: finalName, url });
  });
  return out;
}

function readPrometheus(m: MapView): ObservePrometheus | undefined {
  const r = m.r;
  m.checkKeys(OBSERVE_PROMETHEUS_KEYS);
  const urlNode = m.need('url', 'the Prometheus server\'s base URL, e.g. http://127.0.0.1:9090');
  const url = urlNode === undefined ? undefined : readHttpUrl(r, urlNode, m.pathOf('url'));
  const stepMs = m.duration('step', { positive: true });
  if (stepMs !== undefined && stepMs < 1) {
    r.report('FG_SCENARIO_BAD_VALUE', m.get('step'), m.pathOf('step'), `step ${formatMs(stepMs)} is shorter than Prometheus's resolution`, { value: formatMs(stepMs), allowed: 'a duration of at least 1ms' });
  }
  const rateWindowMs = m.duration('rate_window', { positive: true });
  const qm = m.map('queries');
  const queries: Record<string, string> = {};
  if (qm) {
    for (const key of qm.keys()) {
      const p = qm.pathOf(key);
      if (!QUERY_NAME.test(key)) {
        r.report('FG_SCENARIO_BAD_VALUE', qm.keyNode(key), p, `query name ${JSON.stringify(key)} is not a snake_case name`, { value: key, allowed: 'lower-case letters, digits and "_", e.g. kv_cache_usage' });
        continue;
      }
      const node = qm.get(key);
      if (node === undefined) {
        qm.missing(key, `query "${key}" is empty`, 'a PromQL expression');
        continue;
      }
      const q = r.str(node, p);
      if (q === undefined) continue;
      if (q.trim() === '') {
        r.report('FG_SCENARIO_MISSING_FIELD', node, p, `query "${key}" is empty`, { allowed: 'a PromQL expression' });
        continue;
      }
      queries[key] = q;
    }
  }
  if (url === undefined) return undefined;
  return { url: url.replace(/\/+$/, ''), stepMs, rateWindowMs, queries };
}

function readListen(m: MapView): { host: string; port: number } | false | undefined {
  const node = m.get('metrics_listen');
  if (node === undefined) return undefined;
  const path = m.pathOf('metrics_listen');
  if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number' && typeof node.value !== 'boolean')) {
    m.r.report('FG_SCENARIO_TYPE', node, path, `expected ${LISTEN_ALLOWED}, got ${describe(node)}`, { value: scalarValue(node), allowed: LISTEN_ALLOWED });
    return undefined;
  }
  const parsed = parseListen(node.value);
  if (typeof parsed === 'string') {
    m.r.report('FG_SCENARIO_OBSERVE_LISTEN', node, path, parsed, { value: node.value, allowed: LISTEN_ALLOWED });
    return undefined;
  }
  return parsed;
}
