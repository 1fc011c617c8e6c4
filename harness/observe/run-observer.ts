/**
 * Observability of one run, as runScenario drives it: before the load, find the endpoints
 * (observe.endpoints, else discovery from the target), take the idle baseline sample and start
 * the harness's own /metrics server; during the run, sample on the run clock and feed the live
 * metrics from records and progress; after it, stop sampling (or query Prometheus over the run
 * window) and build summary.json `server` and the points of server.json.
 *
 * Nothing here can fail a run: an endpoint that does not answer is counted, a taken port or an
 * unreachable Prometheus is a warning, and the summary says what was (not) sampled.
 */
import type { RequestRecord } from '../metrics/request-record.ts';
import type { ProgressSnapshot } from '../engine/engine.ts';
import type { Scenario } from '../scenario/scenario-types.ts';
import { OBSERVE_DEFAULT_INTERVAL_MS } from '../scenario/scenario-observe.ts';
import { discoverEndpoints } from './discover.ts';
import { formatListen, type ListenAddress } from './listen-address.ts';
import { LiveMetrics } from './live-metrics.ts';
import { queryPrometheus } from './prometheus-query.ts';
import { MetricsSampler, type SamplerEndpoint } from './sampler.ts';
import { buildServerSummary, noServerSummary, type ServerPoint, type ServerSummary } from './server-summary.ts';

export interface RunObserverOptions {
  scenario: Scenario;
  /** The target's base URL (the embedded stack's gateway for embedded runs). */
  targetUrl: string;
  /** Discover the target's /metrics when observe.endpoints lists none (see runScenario's options). */
  discover: boolean;
  /** Where to serve the harness's /metrics; false: not at all. */
  metricsListen: ListenAddress | false;
  runId: string;
  warn: (message: string) => void;
  /** The harness's /metrics URL, once it is served. */
  onMetricsUrl?: (url: string) => void;
}

export interface ObservedServer {
  summary: ServerSummary;
  /** server.json's points; undefined when nothing was sampled. */
  points: ServerPoint[] | undefined;
}

export class RunObserver {
  private sampler: MetricsSampler | undefined;
  private live: LiveMetrics | undefined;
  private note: string | null = null;
  private mode: 'metrics' | 'prometheus' | 'none' = 'none';
  private readonly intervalMs: number;

  private constructor(private readonly o: RunObserverOptions) {
    this.intervalMs = o.scenario.observe?.intervalMs ?? OBSERVE_DEFAULT_INTERVAL_MS;
  }

  static async start(o: RunObserverOptions): Promise<RunObserver> {
    const ob = new RunObserver(o);
    await ob.init();
    return ob;
  }

  private async init(): Promise<void> {
    const { scenario } = this.o;
    const observe = scenario.observe;
    if (this.o.metricsListen !== false) {
      const live = new LiveMetrics({ scenario: scenario.name, runId: this.o.runId, stages: scenario.load.stages.map((s) => s.name) });
      const url = await live.listen(this.o.metricsListen.host, this.o.metricsListen.port);
      if (typeof url === 'string') {
        this.live = live;
        this.o.onMetricsUrl?.(url);
      } else {
        this.o.warn(`the harness's /metrics cannot be served on ${formatListen(this.o.metricsListen)} (${(url as NodeJS.ErrnoException).code ?? url.message}); the run goes on without it (--metrics-listen off silences this)`);
      }
    }
    if (observe && !observe.enabled) {
      this.note = 'observe.enabled is false: nothing sampled';
      return;
    }
    if (observe?.prometheus) {
      this.mode = 'prometheus';
      return;
    }
    let endpoints: SamplerEndpoint[];
    if (observe?.endpoints) {
      endpoints = [...observe.endpoints];
    } else if (this.o.discover) {
      const d = await discoverEndpoints(this.o.targetUrl);
      endpoints = d.endpoints;
      this.note = d.note;
    } else {
      this.note = 'no observe block: the target was not asked for /metrics (programmatic runs discover endpoints only with an observe block or the discoverMetrics option)';
      endpoints = [];
    }
    if (endpoints.length === 0) {
      this.note ??= 'observe.endpoints is empty: nothing sampled';
      return;
    }
    this.mode = 'metrics';
    this.sampler = new MetricsSampler({ endpoints, intervalMs: this.intervalMs, ...(observe?.timeoutMs !== undefined ? { timeoutMs: observe.timeoutMs } : {}) });
    this.sampler.start();
  }

  /** The engine set the run epoch. */
  onEpoch(epochNs: bigint): void {
    this.sampler?.setEpoch(epochNs);
  }

  onRecord(r: RequestRecord): void {
    this.live?.onRecord(r);
  }

  onProgress(p: ProgressSnapshot): void {
    this.live?.onProgress(p);
  }

  /** Whether the harness's /metrics is being served. */
  get serving(): boolean {
    return this.live !== undefined;
  }

  /** Stop sampling and build the server block. `startedAt`: the wall-clock time of the epoch. */
  async finish(run: { startedAt: Date; wallMs: number }): Promise<ObservedServer> {
    const durationS = run.wallMs / 1000;
    if (this.mode === 'metrics' && this.sampler) {
      const { points, endpoints } = await this.sampler.stop();
      this.sampler = undefined;
      const failing = endpoints.filter((e) => e.ok_scrapes === 0);
      let note = this.note;
      if (failing.length) note = `no successful scrape of ${failing.map((e) => `${e.name} (${e.last_error})`).join(', ')}`;
      return { summary: buildServerSummary({ source: 'metrics', note, intervalS: this.intervalMs / 1000, points, durationS, endpoints }), points };
    }
    if (this.mode === 'prometheus') {
      const p = this.o.scenario.observe!.prometheus!;
      const stepMs = p.stepMs ?? this.intervalMs;
      try {
        const res = await queryPrometheus({
          url: p.url,
          startMs: run.startedAt.getTime(),
          durationMs: run.wallMs,
          stepMs,
          ...(p.rateWindowMs !== undefined ? { rateWindowMs: p.rateWindowMs } : {}),
          queries: p.queries,
        });
        for (const e of res.errors) this.o.warn(`Prometheus query failed: ${e}`);
        const summary = buildServerSummary({
          source: 'prometheus',
          note: res.errors.length ? `${res.errors.length} Prometheus queries failed (see prometheus.errors)` : null,
          intervalS: stepMs / 1000,
          points: res.points,
          durationS,
          prometheus: { url: p.url, step_s: stepMs / 1000, rate_window_s: res.rateWindowMs / 1000, queries: res.queries, errors: res.errors },
        });
        return { summary, points: res.points };
      } catch (e) {
        const msg = `Prometheus at ${p.url} could not be queried: ${(e as Error).message}`;
        this.o.warn(msg);
        return { summary: noServerSummary(msg), points: undefined };
      }
    }
    return { summary: noServerSummary(this.note), points: undefined };
  }

  /** Stop everything (idempotent): the live /metrics server and a sampler still running. */
  async close(): Promise<void> {
    const s = this.sampler;
    this.sampler = undefined;
    await Promise.all([s?.stop(), this.live?.close()]);
    this.live = undefined;
  }
}
