/**
 * The harness's own /metrics during a run (`observe.metrics_listen`, default 127.0.0.1:9464 for
 * `harness run`), so that Prometheus can scrape a run live next to the target's metrics. Names
 * and labels are the contract of docs/metrics.md ("The harness's /metrics"); one explicit
 * prom-client Registry per run, no global state.
 *
 * Fed on the main thread: every RequestRecord as the engine receives it (completions, errors,
 * TTFT / ITL / E2E, output tokens, send lag) and every progress snapshot (in flight, the target
 * rate, and sends: a request counts as sent once it is in flight or done).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RequestRecord } from '../metrics/request-record.ts';
import type { ProgressSnapshot } from '../engine/engine.ts';

const TTFT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 7.5, 10, 20, 30, 60];
const ITL_BUCKETS = [0.001, 0.0025, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1];
const E2E_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300];
const LAG_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];

export interface LiveMetricsOptions {
  scenario: string;
  runId: string;
  /** Stage names by index. */
  stages: readonly string[];
}

export class LiveMetrics {
  readonly registry = new Registry();
  private readonly sent: Counter;
  private readonly completed: Counter;
  private readonly errors: Counter;
  private readonly inFlight: Gauge;
  private readonly targetRate: Gauge;
  private readonly ttft: Histogram;
  private readonly itl: Histogram;
  private readonly e2e: Histogram;
  private readonly outputTokens: Counter;
  private readonly sendLag: Histogram;
  private countedSent = 0;
  private done = 0;
  private server: http.Server | undefined;

  constructor(private readonly o: LiveMetricsOptions) {
    const registers = [this.registry];
    this.sent = new Counter({ name: 'floodgate_harness_requests_sent_total', help: 'Requests sent by the harness (counted once in flight or done).', labelNames: ['scenario', 'stage'], registers });
    this.completed = new Counter({ name: 'floodgate_harness_requests_completed_total', help: 'Requests completed, by outcome.', labelNames: ['scenario', 'stage', 'outcome'], registers });
    this.errors = new Counter({ name: 'floodgate_harness_errors_total', help: 'Failed requests by error code (docs/errors.md).', labelNames: ['scenario', 'code'], registers });
    this.inFlight = new Gauge({ name: 'floodgate_harness_in_flight', help: 'Requests in flight now.', labelNames: ['scenario'], registers });
    this.targetRate = new Gauge({ name: 'floodgate_harness_target_rate', help: 'Requests per second the schedule asks for now (0 in closed-loop stages).', labelNames: ['scenario'], registers });
    this.ttft = new Histogram({ name: 'floodgate_harness_ttft_seconds', help: 'Client-side time to first token.', labelNames: ['scenario', 'model'], buckets: TTFT_BUCKETS, registers });
    this.itl = new Histogram({ name: 'floodgate_harness_itl_seconds', help: 'Client-side inter-token latency (per token).', labelNames: ['scenario', 'model'], buckets: ITL_BUCKETS, registers });
    this.e2e = new Histogram({ name: 'floodgate_harness_e2e_seconds', help: 'Client-side end-to-end latency.', labelNames: ['scenario', 'model'], buckets: E2E_BUCKETS, registers });
    this.outputTokens = new Counter({ name: 'floodgate_harness_output_tokens_total', help: 'Output tokens of successful requests.', labelNames: ['scenario', 'model'], registers });
    this.sendLag = new Histogram({ name: 'floodgate_harness_send_lag_seconds', help: 'Schedule lag: actual send time - intended send time.', labelNames: ['scenario'], buckets: LAG_BUCKETS, registers });
    const info = new Gauge({ name: 'floodgate_harness_run_info', help: 'The run in progress (always 1).', labelNames: ['scenario', 'run_id'], registers });
    info.set({ scenario: o.scenario, run_id: o.runId }, 1);
    this.inFlight.set({ scenario: o.scenario }, 0);
    this.targetRate.set({ scenario: o.scenario }, 0);
  }

  private stageName(i: number): string {
    return this.o.stages[i] ?? String(i);
  }

  onRecord(r: RequestRecord): void {
    const scenario = this.o.scenario;
    const stage = this.stageName(r.stage);
    this.done++;
    // A request is sent before it completes: keep sent >= completed.
    if (this.done > this.countedSent) {
      this.sent.inc({ scenario, stage }, this.done - this.countedSent);
      this.countedSent = this.done;
    }
    this.completed.inc({ scenario, stage, outcome: r.ok ? 'ok' : 'failed' });
    if (!r.ok) this.errors.inc({ scenario, code: r.error?.code ?? 'unknown' });
    this.sendLag.observe({ scenario }, Math.max(0, r.scheduleLagMs) / 1000);
    const model = r.model;
    if (r.ok) {
      if (r.ttftMs !== undefined) this.ttft.observe({ scenario, model }, r.ttftMs / 1000);
      if (r.e2eMs !== undefined) this.e2e.observe({ scenario, model }, r.e2eMs / 1000);
      const itl = this.itl.labels({ scenario, model });
      for (const v of r.itlMs) itl.observe(v / 1000);
      this.outputTokens.inc({ scenario, model }, r.outputTokens);
    }
  }

  onProgress(p: ProgressSnapshot): void {
    const scenario = this.o.scenario;
    this.inFlight.set({ scenario }, p.inFlight);
    this.targetRate.set({ scenario }, p.targetRps ?? 0);
    const sentNow = p.ok + p.failed + p.inFlight;
    if (sentNow > this.countedSent) {
      this.sent.inc({ scenario, stage: this.stageName(p.stage) }, sentNow - this.countedSent);
      this.countedSent = sentNow;
    }
  }

  /**
   * Serve /metrics on host:port. Resolves to the URL, or to an Error when the address cannot be
   * used (port taken, no such interface): the caller warns and the run goes on without it.
   */
  listen(host: string, port: number): Promise<string | Error> {
    const server = http.createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: the harness serves /metrics\n');
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType }).end(req.method === 'HEAD' ? undefined : text),
        (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(String(e)),
      );
    });
    server.keepAliveTimeout = 5000;
    return new Promise((resolve) => {
      server.once('error', (e) => resolve(e));
      server.listen(port, host, () => {
        server.removeAllListeners('error');
        server.on('error', () => undefined);
        this.server = server;
        const a = server.address() as AddressInfo;
        const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
        resolve(`http://${h}:${a.port}/metrics`);
      });
    });
  }

  /** Stop serving (connections in progress are closed). */
  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }
}
