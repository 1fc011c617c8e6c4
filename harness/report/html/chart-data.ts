/**
 * What the report's charts draw: the JSON blob embedded in report.html, built from a run folder.
 * Time series (downsampled, downsample.ts), CDFs of the measured successful requests
 * (summarised, cdf.ts), and one ChartSpec per chart to draw, so the page's script only draws what
 * is described here. A series with no value is left out, and a chart with no series is not made:
 * no target line in a closed-loop run, no server overlays when the server was not sampled.
 */
import type { RunData } from '../run-data.ts';
import { cdfPoints, type CdfPoints } from './cdf.ts';
import { downsampleClient, downsampleServer, hasValues, MAX_SERIES_POINTS, type ClientColumns, type ServerColumns } from './downsample.ts';

/** How an axis' values are written: ms; plain numbers; fractions 0..1 as %. */
export type Unit = 'ms' | 'num' | 'pct';

export interface ChartSeries {
  label: string;
  /** Column source: client time series, server samples, or (CDF charts) the chart's CDF. */
  src: 'client' | 'server' | 'cdf';
  key: string;
  axis: 'y' | 'y2';
  color: string;
  dash?: number[];
  fill?: string;
  /** Line width in CSS px (default 1.6). */
  width?: number;
}

export interface ChartSpec {
  id: string;
  kind: 'time' | 'cdf';
  title: string;
  /** One line under the title: what a point is. */
  note: string;
  y: { label: string; unit: Unit };
  y2?: { label: string; unit: Unit };
  x: { label: string; unit: Unit };
  series: ChartSeries[];
  /** CDF charts: which CDF; and the SLO as a vertical marker, when one is set. */
  cdf?: string;
  marker?: { x: number; label: string };
}

export interface ChartData {
  duration_s: number;
  client: ClientColumns;
  server: ServerColumns | null;
  cdf: Record<string, CdfPoints>;
  charts: ChartSpec[];
}

const C = {
  target: 'rgba(107,114,128,0.45)',
  sent: '#2563eb',
  ok: '#16a34a',
  failed: '#dc2626',
  dropped: '#d97706',
  inFlight: '#7c3aed',
  running: '#0d9488',
  queue: '#ea580c',
  kv: '#db2777',
  kvMax: '#9d174d',
  gpu: '#65a30d',
  gpuMem: '#a16207',
  p50: '#2563eb',
  p95: '#1e3a8a',
  itl50: '#0891b2',
  itl95: '#155e75',
  tokens: '#4f46e5',
  cdf: '#2563eb',
};

export function buildChartData(data: RunData): ChartData {
  const client = downsampleClient(data.timeseries, MAX_SERIES_POINTS);
  const server = downsampleServer(data.server, MAX_SERIES_POINTS);
  const charts: ChartSpec[] = [];
  const per = client.bucket_s === 1 ? 'per second' : `per second, averaged over ${client.bucket_s}-s buckets`;
  // Latency charts: what a point is when seconds are merged into buckets.
  const quantileBuckets = client.bucket_s === 1 ? '' : ` (${client.bucket_s}-s buckets: p50 averaged, p95 the worst second)`;
  const srvNote = server ? (server.group === 1 ? '; server: every sample' : `; server: the max of each ${server.group} samples (GPU utilisation: their mean)`) : '';
  const cl = (label: string, key: string, color: string, extra: Partial<ChartSeries> = {}): ChartSeries | null =>
    hasValues(client.cols[key as keyof ClientColumns['cols']]) ? { label, src: 'client', key, axis: 'y', color, ...extra } : null;
  const sv = (label: string, key: string, color: string, axis: 'y' | 'y2', extra: Partial<ChartSeries> = {}): ChartSeries | null =>
    server && hasValues(server.cols[key as keyof ServerColumns['cols']]) ? { label: `server: ${label}`, src: 'server', key, axis, color, ...extra } : null;
  const time = (spec: Omit<ChartSpec, 'kind' | 'x' | 'series'> & { series: Array<ChartSeries | null> }) => {
    const series = spec.series.filter((s): s is ChartSeries => s !== null);
    // A chart whose own quantity has no value is not made, even if an overlay has some.
    if (!series.some((s) => s.axis === 'y')) return;
    const hasY2 = series.some((s) => s.axis === 'y2');
    const { y2, ...rest } = spec;
    charts.push({ ...rest, ...(hasY2 && y2 ? { y2 } : {}), kind: 'time', x: { label: 'run time (s)', unit: 'num' }, series });
  };

  if (data.timeseries.length > 0) {
    time({
      id: 'rate', title: 'Request rate: target vs achieved', note: `requests sent ${per}${srvNote}`,
      y: { label: 'req/s', unit: 'num' }, y2: { label: 'queued', unit: 'num' },
      series: [
        cl('target (planned)', 'target', C.target, { width: 4 }),
        cl('sent (achieved)', 'sent', C.sent),
        hasNonZero(client.cols.dropped) ? cl('dropped', 'dropped', C.dropped) : null,
        sv('queue depth', 'queue_depth', C.queue, 'y2', { dash: [2, 3] }),
      ],
    });
    time({
      id: 'in-flight', title: 'Concurrency', note: `client: the most requests in flight in each ${client.bucket_s === 1 ? 'second' : `${client.bucket_s}-s bucket`}${srvNote}`,
      y: { label: 'requests', unit: 'num' },
      series: [
        cl('client in flight', 'in_flight', C.inFlight),
        sv('running', 'running', C.running, 'y'),
        sv('queue depth', 'queue_depth', C.queue, 'y', { dash: [2, 3] }),
      ],
    });
    time({
      id: 'ttft', title: 'Time to first token', note: `TTFT of the requests that ended in each second${quantileBuckets}${srvNote}`,
      y: { label: 'ms', unit: 'ms' }, y2: { label: 'queued', unit: 'num' },
      series: [
        cl('TTFT p50', 'ttft_p50', C.p50),
        cl('TTFT p95', 'ttft_p95', C.p95, { dash: [4, 2] }),
        sv('queue depth', 'queue_depth', C.queue, 'y2', { dash: [2, 3] }),
      ],
    });
    time({
      id: 'itl', title: 'Inter-token latency', note: `ITL of the requests that ended in each second${quantileBuckets}${srvNote}`,
      y: { label: 'ms', unit: 'ms' }, y2: { label: 'running', unit: 'num' },
      series: [
        cl('ITL p50', 'itl_p50', C.itl50),
        cl('ITL p95', 'itl_p95', C.itl95, { dash: [4, 2] }),
        sv('running', 'running', C.running, 'y2', { dash: [2, 3] }),
      ],
    });
    time({
      id: 'tokens', title: 'Output tokens per second', note: `output tokens of the requests that ended ${per}${srvNote}`,
      y: { label: 'tok/s', unit: 'num' }, y2: { label: 'usage', unit: 'pct' },
      series: [
        cl('output tok/s', 'output_tokens', C.tokens, { fill: 'rgba(79,70,229,0.08)' }),
        sv('KV-cache usage', 'kv_cache_usage', C.kv, 'y2', { dash: [2, 3] }),
        sv('GPU utilisation', 'gpu_utilization', C.gpu, 'y2', { dash: [6, 3] }),
      ],
    });
    time({
      id: 'outcomes', title: 'Completions and errors', note: `requests that ended ${per}`,
      y: { label: 'req/s', unit: 'num' },
      series: [
        cl('ok', 'ok', C.ok, { fill: 'rgba(22,163,74,0.08)' }),
        cl('failed', 'failed', C.failed),
      ],
    });
  }
  if (server) {
    time({
      id: 'server', title: 'Server: KV cache and GPU', note: server.group === 1 ? 'every sample of the target\'s metrics' : `the max of each ${server.group} samples (GPU utilisation: their mean)`,
      y: { label: 'usage', unit: 'pct' },
      series: [
        sv('KV-cache usage (mean over workers)', 'kv_cache_usage', C.kv, 'y'),
        sv('KV-cache usage (busiest worker)', 'kv_cache_usage_max', C.kvMax, 'y', { dash: [4, 2] }),
        sv('GPU utilisation', 'gpu_utilization', C.gpu, 'y'),
        sv('GPU memory used', 'gpu_memory_used_fraction', C.gpuMem, 'y', { dash: [2, 3] }),
      ],
    });
  }

  // CDFs of the measured, successful requests (the requests summary.json's latencies are of).
  const measured = data.requests.filter((r) => r.ok && r.phase === 'measure');
  const cdf: Record<string, CdfPoints> = {};
  const slo = data.summary.slo ?? { ttft_ms: null, itl_ms: null, e2e_ms: null, tpot_ms: null };
  const cdfChart = (id: string, title: string, note: string, values: Array<number | null>, sloMs: number | null | undefined, sloLabel: string) => {
    const pts = cdfPoints(values);
    if (!pts) return;
    cdf[id] = pts;
    charts.push({
      id: `cdf-${id}`, kind: 'cdf', title, note: `${note}; ${pts.n.toLocaleString('en-US')} requests`, cdf: id,
      x: { label: 'ms', unit: 'ms' }, y: { label: 'share of requests', unit: 'pct' },
      series: [{ label: title, src: 'cdf', key: id, axis: 'y', color: C.cdf }],
      ...(typeof sloMs === 'number' ? { marker: { x: sloMs, label: `SLO ${sloLabel}` } } : {}),
    });
  };
  cdfChart('ttft', 'TTFT CDF', 'time to first token', measured.map((r) => r.ttft_ms), slo.ttft_ms, 'TTFT');
  cdfChart('itl', 'ITL CDF (per-request mean)', 'each request\'s mean inter-token latency (requests.jsonl keeps the mean per request, not every gap)', measured.map((r) => r.itl_mean_ms), slo.itl_ms, 'ITL');
  cdfChart('e2e', 'E2E CDF', 'end-to-end latency', measured.map((r) => r.e2e_ms), slo.e2e_ms, 'E2E');

  return { duration_s: data.summary.duration_s, client, server, cdf, charts };
}

function hasNonZero(col: Array<number | null>): boolean {
  return col.some((v) => v !== null && v !== 0);
}
