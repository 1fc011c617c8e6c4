/**
 * Which /metrics endpoints a run samples when the scenario's `observe.endpoints` lists none:
 *
 * - the target's origin + /metrics, when it answers with Prometheus text (the embedded stack's
 *   gateway always does; an external target may not, and then nothing is sampled and the
 *   summary says why);
 * - and, when that origin also serves Prometheus HTTP service discovery at /sd/prometheus (the
 *   Floodgate gateway does), every target it lists, named by its `worker` label: the workers'
 *   own /metrics (vllm:* and DCGM_*).
 */
import { Agent, request } from 'undici';
import { parsePromText } from './prom-text.ts';
import { scrapeErrorCode, type SamplerEndpoint } from './sampler.ts';

export interface Discovery {
  endpoints: SamplerEndpoint[];
  /** Why nothing (or only part) was found, in words; null when all went well. */
  note: string | null;
}

interface SdGroup {
  targets?: unknown;
  labels?: Record<string, unknown>;
}

/** Endpoints from Prometheus HTTP-SD JSON: `[{targets: [host:port], labels: {...}}]`. */
export function endpointsFromSd(groups: unknown): SamplerEndpoint[] {
  if (!Array.isArray(groups)) return [];
  const out: SamplerEndpoint[] = [];
  for (const g of groups as SdGroup[]) {
    if (!g || !Array.isArray(g.targets)) continue;
    const labels = g.labels ?? {};
    const scheme = typeof labels.__scheme__ === 'string' ? labels.__scheme__ : 'http';
    const metricsPath = typeof labels.__metrics_path__ === 'string' ? labels.__metrics_path__ : '/metrics';
    for (const t of g.targets) {
      if (typeof t !== 'string' || t === '') continue;
      const name = typeof labels.worker === 'string' && labels.worker !== '' ? labels.worker : t;
      out.push({ name, url: `${scheme}://${t}${metricsPath.startsWith('/') ? '' : '/'}${metricsPath}` });
    }
  }
  return uniqueNames(out);
}

/** Make endpoint names unique (`w`, `w#2`, ...), keeping the first as written. */
export function uniqueNames(eps: SamplerEndpoint[]): SamplerEndpoint[] {
  const seen = new Map<string, number>();
  return eps.map((e) => {
    const n = (seen.get(e.name) ?? 0) + 1;
    seen.set(e.name, n);
    return n === 1 ? e : { ...e, name: `${e.name}#${n}` };
  });
}

/** Drop a response body unread; the abort error it then emits is expected. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** Discover the endpoints of `targetUrl` (a base URL, /v1 included or not). Never throws. */
export async function discoverEndpoints(targetUrl: string, timeoutMs = 2000): Promise<Discovery> {
  const origin = new URL(targetUrl).origin;
  const metricsUrl = `${origin}/metrics`;
  const agent = new Agent({ connect: { timeout: timeoutMs }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
  try {
    // 1. Does the origin serve Prometheus text at /metrics?
    let why: string | undefined;
    try {
      const res = await request(metricsUrl, { dispatcher: agent, headers: { accept: 'text/plain;version=0.0.4' }, signal: AbortSignal.timeout(timeoutMs) });
      const type = String(res.headers['content-type'] ?? '');
      if (res.statusCode !== 200) why = `http_${res.statusCode}`;
      else if (!/^(text\/plain|application\/openmetrics-text)/i.test(type)) why = `content-type ${type || 'none'}, not Prometheus text`;
      if (why !== undefined) {
        // Do not read what is not metrics (it may be a stream): drop the connection.
        discard(res.body);
      } else {
        const parsed = parsePromText(await res.body.text());
        if (parsed.families.size === 0) why = 'no metrics in the answer';
      }
    } catch (e) {
      why = scrapeErrorCode(e);
    }
    if (why !== undefined) return { endpoints: [], note: `the target's origin serves no Prometheus metrics at ${metricsUrl} (${why}): nothing sampled; list endpoints in observe.endpoints` };
    const endpoints: SamplerEndpoint[] = [{ name: 'gateway', url: metricsUrl }];
    // 2. Service discovery: the workers behind a Floodgate gateway.
    try {
      const res = await request(`${origin}/sd/prometheus`, { dispatcher: agent, signal: AbortSignal.timeout(timeoutMs) });
      if (res.statusCode === 200 && /json/i.test(String(res.headers['content-type'] ?? ''))) {
        const workers = endpointsFromSd(await res.body.json()).filter((w) => w.url !== metricsUrl);
        endpoints.push(...workers);
      } else {
        discard(res.body);
      }
    } catch {
      // no service discovery: the origin's own /metrics only
    }
    // The origin's own endpoint is named `gateway` when service discovery shows it is one;
    // otherwise `target`.
    if (endpoints.length === 1) endpoints[0] = { name: 'target', url: metricsUrl };
    return { endpoints: uniqueNames(endpoints), note: null };
  } finally {
    await agent.close().catch(() => undefined);
  }
}
