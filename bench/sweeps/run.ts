/**
 * bench/sweeps: the shipped tuning sweeps (scenarios/tune-*.yaml) run as a user runs them, timed,
 * and each cell's sustained rate set beside the rate the simulated engine's own discrete-event
 * model gives for the same traffic (virtualRun: the same scheduler, KV cache and performance
 * model, on a virtual clock, with no gateway, no client and no timers). The gap between the two
 * is what the live path adds: the gateway and the client on the machine's cores, the timers of a
 * time-scaled engine, and the noise of one 20 s measurement. It says whether the sweep's answer is
 * the model's, or the machine's.
 *
 *   npm run bench -- sweeps [--only tune-quantization] [--virtual-only]
 *
 * The virtual side is `harness sweep --virtual` (harness/sweep/virtual-measure.ts): the planned
 * requests of the sweep's scenario at each rate (same seed, arrivals and lengths), through the
 * engine's model, searched with the sweep's own settings.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSweep } from '../../harness/sweep/sweep-file.ts';
import { runSweep } from '../../harness/sweep/run-sweep.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const f = (v: number | null | undefined, d = 2): string => (v === null || v === undefined ? '-' : v.toFixed(d));

export async function main(): Promise<void> {
  const only = arg('only');
  const virtualOnly = process.argv.includes('--virtual-only');
  const names = ['tune-quantization', 'tune-batching'].filter((n) => only === undefined || n === only);
  for (const name of names) {
    const spec = loadSweep(path.join(root, 'scenarios', `${name}.yaml`));
    console.log(`\n${name}: ${spec.cells.length} cells, ${spec.load.kind === 'search' ? `search to ${spec.load.precision * 100}%` : 'fixed rates'}, time scale ${spec.timeScale}, ${spec.durationMs / 1000} s per measurement`);
    let live: Map<string, { rate: number | null; saturated: number; measurements: number }> | undefined;
    if (!virtualOnly) {
      const t0 = Date.now();
      const { dir, result } = await runSweep(spec, { reportsDir: path.join(root, 'reports') });
      const wall = (Date.now() - t0) / 1000;
      const n = result.cells.reduce((a, c) => a + c.measurements.length, 0);
      console.log(`live: ${n} measurements in ${Math.floor(wall / 60)} min ${Math.round(wall % 60)} s (${dir}); best ${result.best?.cell ?? 'none'}`);
      live = new Map(result.cells.map((c) => [c.id, { rate: c.best_rate, saturated: c.measurements.filter((m) => m.saturated).length, measurements: c.measurements.length }]));
    }
    const t1 = Date.now();
    const v = await runSweep(spec, { engine: 'virtual', reportsDir: path.join(root, 'reports') });
    const virtualRate = new Map(v.result.cells.map((c) => [c.id, c.best_rate]));
    const rows: string[][] = [];
    for (const cell of spec.cells) {
      const vr = virtualRate.get(cell.id) ?? null;
      const l = live?.get(cell.id);
      const ratio = l?.rate != null && vr ? l.rate / vr : null;
      rows.push([Object.values(cell.labels).map(String).join(' '), f(l?.rate), f(vr), ratio === null ? '-' : `${ratio.toFixed(2)}x`, l ? `${l.saturated}/${l.measurements}` : '-']);
    }
    console.log(`virtual: ${v.result.cells.reduce((a, c) => a + c.measurements.length, 0)} measurements in ${((Date.now() - t1) / 1000).toFixed(1)} s (${v.dir}); best ${v.result.best?.cell ?? 'none'}`);
    const head = ['cell', 'live req/s', 'virtual req/s', 'live/virtual', 'client saturated'];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    for (const r of [head, ...rows]) console.log(r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  '));
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
