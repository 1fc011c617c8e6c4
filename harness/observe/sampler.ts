/**
 * The metrics sampler: scrapes a set of /metrics endpoints at a fixed interval on the run clock
 * and turns each sample into server figures (derive.ts). Scrapes run on the main thread, which
 * only aggregates while the client threads send; each scrape has its own timeout, an endpoint
 * whose previous scrape is still running is skipped for that tick (counted as skipped),
 * and a failing endpoint is counted, never fatal: sampling can neither block nor slow the load.
 *
 * Timing: `start()` takes a first sample at once (the idle baseline, before the run); once the
 * engine has set the run epoch, `setEpoch()` schedules samples at t = 0, interval, 2 x interval,
 * ... of the run clock (`process.hrtime.bigint()` - epoch, the engine's clock); `stop()` takes a
 * last sample and returns every point with `t_s` on the run clock.
 */
import { Agent, request } from 'undici';
import { parsePromText } from './prom-text.ts';
import { combine, isWorkerReading, readEndpoint, SAMPLED_FAMILIES, sumDeltas, type CounterSnapshot, type EndpointReading, type ServerValues } from './derive.ts';
import type { EndpointStatus, ServerPoint } from './server-summary.ts';

export interface SamplerEndpoint {
  /** Name in the report: `gateway`, a worker's name (from service discovery), or as configured. */
  name: string;
  /** The /metrics URL. */
  url: string;
}

export interface SamplerOptions {
  endpoints: readonly SamplerEndpoint[];
  intervalMs: number;
  /** Per-scrape timeout; default the interval, at most 5 s. */
  timeoutMs?: number;
}

interface Tick {
  tNs: bigint;
  readings: Array<{ name: string; reading: EndpointReading }>;
  failed: string[];
}

/** Short code of a failed scrape, like the request error codes. */
export function scrapeErrorCode(e: unknown): string {
  const err = e as { name?: string; code?: string; cause?: { code?: string } };
  const code = err?.code ?? err?.cause?.code;
  if (err?.name === 'TimeoutError' || err?.name === 'AbortError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return 'timeout';
  if (code === 'ECONNREFUSED') return 'connection_refused';
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return 'connection_reset';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'dns';
  return code ? String(code).toLowerCase() : 'scrape_error';
}

export class MetricsSampler {
  private readonly agent: Agent;
  private readonly timeoutMs: number;
  private readonly status: EndpointStatus[];
  private readonly counters = new Map<string, CounterSnapshot>();
  private readonly busy = new Set<string>();
  private readonly pending = new Set<Promise<void>>();
  private readonly ticks: Tick[] = [];
  private timer: NodeJS.Timeout | undefined;
  private epochNs: bigint | undefined;
  private k = 0;
  private stopped = false;

  constructor(private readonly o: SamplerOptions) {
    this.timeoutMs = o.timeoutMs ?? Math.min(o.intervalMs, 5000);
    this.agent = new Agent({ connections: 2, connect: { timeout: this.timeoutMs }, headersTimeout: this.timeoutMs, bodyTimeout: this.timeoutMs });
    this.status = o.endpoints.map((e) => ({ name: e.name, url: e.url, ok_scrapes: 0, failed_scrapes: 0, skipped_scrapes: 0, last_error: null }));
  }

  /** Take the baseline sample now (before the run epoch). */
  start(): void {
    this.sample();
  }

  /** The run epoch is set: sample at epoch + k x interval from now on. */
  setEpoch(epochNs: bigint): void {
    if (this.stopped) return;
    this.epochNs = epochNs;
    this.k = 0;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped || this.epochNs === undefined) return;
    const now = process.hrtime.bigint();
    const intervalNs = BigInt(Math.round(this.o.intervalMs * 1e6));
    let due = this.epochNs + BigInt(this.k) * intervalNs;
    // Behind (a stalled loop): skip to the next slot rather than firing a burst.
    while (due + intervalNs < now) {
      this.k++;
      due += intervalNs;
    }
    this.arm(due);
  }

  /** Sample at `due` (never before it: a timer may fire a fraction of a millisecond early). */
  private arm(due: bigint): void {
    const waitMs = Math.max(0, Math.ceil(Number(due - process.hrtime.bigint()) / 1e6));
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      if (process.hrtime.bigint() < due) return this.arm(due);
      this.k++;
      this.sample();
      this.schedule();
    }, waitMs);
    this.timer.unref?.();
  }

  /** Scrape every endpoint now, as one sample. */
  private sample(): void {
    const tNs = process.hrtime.bigint();
    const tick: Tick = { tNs, readings: [], failed: [] };
    this.ticks.push(tick);
    for (let i = 0; i < this.o.endpoints.length; i++) {
      const ep = this.o.endpoints[i]!;
      const st = this.status[i]!;
      if (this.busy.has(ep.name)) {
        // Its previous scrape is still running (within its timeout): skip it this time.
        st.skipped_scrapes++;
        tick.failed.push(ep.name);
        continue;
      }
      this.busy.add(ep.name);
      const p = this.scrape(ep, tNs)
        .then((reading) => {
          st.ok_scrapes++;
          tick.readings.push({ name: ep.name, reading });
        })
        .catch((e: unknown) => {
          st.failed_scrapes++;
          st.last_error = e instanceof ScrapeFailure ? e.code : scrapeErrorCode(e);
          tick.failed.push(ep.name);
        })
        .finally(() => {
          this.busy.delete(ep.name);
          this.pending.delete(p);
        });
      this.pending.add(p);
    }
  }

  private async scrape(ep: SamplerEndpoint, tNs: bigint): Promise<EndpointReading> {
    const res = await request(ep.url, {
      dispatcher: this.agent,
      headers: { accept: 'text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5,*/*;q=0.1' },
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new ScrapeFailure(`http_${res.statusCode}`);
    }
    const text = await res.body.text();
    const { families } = parsePromText(text, { only: SAMPLED_FAMILIES });
    const tMs = Number(tNs) / 1e6;
    const { reading, counters } = readEndpoint(families, tMs, this.counters.get(ep.name));
    this.counters.set(ep.name, counters);
    return reading;
  }

  /** Take the last sample, wait for the scrapes in flight (each bounded by its timeout), and return every point. */
  async stop(): Promise<{ points: ServerPoint[]; endpoints: EndpointStatus[] }> {
    if (!this.stopped) {
      if (this.timer) clearTimeout(this.timer);
      this.sample();
      this.stopped = true;
    }
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    await this.agent.close().catch(() => undefined);
    const epoch = this.epochNs ?? this.ticks[0]?.tNs ?? 0n;
    const points = this.ticks.map((t) => toPoint(t, epoch, this.o.endpoints));
    return { points, endpoints: this.status.map((s) => ({ ...s })) };
  }
}

class ScrapeFailure extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

function toPoint(t: Tick, epochNs: bigint, endpoints: readonly SamplerEndpoint[]): ServerPoint {
  // Readings in endpoint order, whatever order the scrapes finished in.
  const order = new Map(endpoints.map((e, i) => [e.name, i]));
  const readings = [...t.readings].sort((a, b) => order.get(a.name)! - order.get(b.name)!);
  const values: ServerValues = combine(readings.map((r) => r.reading));
  const by_worker: Record<string, ServerValues> = {};
  for (const r of readings) if (isWorkerReading(r.reading)) by_worker[r.name] = combine([r.reading]);
  return { t_s: Math.round(Number(t.tNs - epochNs) / 1e3) / 1e6, ...values, by_worker, failed: [...t.failed].sort((a, b) => order.get(a)! - order.get(b)!), counters: sumDeltas(readings.map((r) => r.reading)) };
}
