/**
 * `harness sweep FILE [--resume DIR] [--out DIR]`: run a tuning sweep (harness/sweep/) and write
 * <dir>/sweep.json, sweep.md and sweep.html. Exit 0 when it ran, 2 for a bad sweep file or folder,
 * 3 when a measurement could not be carried out or the sweep was interrupted (resume it).
 */
import type { Command } from 'commander';
import { ExitCode } from '../errors.ts';
import { loadSweep } from '../sweep/sweep-file.ts';
import { runSweep, SweepInterrupted } from '../sweep/run-sweep.ts';
import { recommendationLines } from '../sweep/recommendation.ts';

export async function sweepCommand(file: string, o: { resume?: string; out?: string; quiet?: boolean; virtual?: boolean }): Promise<number> {
  const spec = loadSweep(file);
  const measurements = spec.load.kind === 'rates' ? `${spec.load.rates.length} rate(s)` : 'a saturation search';
  const where = o.virtual ? "the simulated engine's model on a virtual clock (--virtual)" : spec.deploy ? `the deployment at ${spec.deploy.url} (apply/ready per ${spec.deploy.per})` : `a fresh simulated stack per measurement, time scale ${spec.timeScale}`;
  process.stderr.write(`sweep ${spec.name}: ${spec.cells.length} cell(s) x ${measurements}, ${where}\n`);
  const stop = new AbortController();
  const onSigint = (): void => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping: the measurement in progress is dropped (Ctrl-C again to quit at once)\n');
    stop.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    const { dir, result } = await runSweep(spec, {
      ...(o.resume !== undefined ? { resumeDir: o.resume } : {}),
      ...(o.out !== undefined ? { outDir: o.out } : {}),
      signal: stop.signal,
      ...(o.virtual ? { engine: 'virtual' as const } : {}),
      onProgress: (line) => {
        if (!o.quiet) process.stderr.write(`  ${line}\n`);
      },
      onMeasurement: (cell, m) => {
        if (o.quiet) return;
        const f = (v: number | null, d: number): string => (v === null ? '-' : v.toFixed(d));
        process.stderr.write(`    goodput ${f(m.goodput_fraction, 3)}, ${f(m.output_tokens_per_s, 0)} output tok/s, TTFT p95 ${f(m.ttft_p95_ms, 0)} ms, ITL p95 ${f(m.itl_p95_ms, 1)} ms${m.server?.kv_cache_usage_max != null ? `, KV cache up to ${(m.server.kv_cache_usage_max * 100).toFixed(0)}%` : ''}${m.saturated ? ' (client saturated)' : ''}\n`);
        void cell;
      },
    });
    process.stdout.write(recommendationLines(spec, result, dir).join('\n') + '\n');
    process.stdout.write(`${dir}/sweep.html\n${dir}/sweep.md\n${dir}/sweep.json\n`);
    return ExitCode.OK;
  } catch (e) {
    if (e instanceof SweepInterrupted) {
      process.stderr.write(`${e.message}\n`);
      return ExitCode.RUN_FAILED;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

export function registerSweepCommand(program: Command, setCode: (c: number) => void): void {
  program
    .command('sweep')
    .description('tuning sweep: a scenario against a matrix of stack settings (simulated, or your deployment through apply/ready commands) at fixed rates or by saturation search; writes reports/<sweep>-<UTC time>/sweep.html, sweep.md, sweep.json')
    .argument('<file>', 'sweep file (YAML); docs/sweeps.md')
    .option('--resume <dir>', 'resume the sweep in this folder: measurements already in its sweep.json are not redone')
    .option('-o, --out <dir>', 'sweep folder (default reports/<name>-<UTC time>)')
    .option('--virtual', "measure on the simulated engine's own model (virtual clock: no gateway, client or timers; one simulated worker per cell): seconds instead of minutes")
    .option('-q, --quiet', 'no progress lines')
    .action(async (file: string, o: { resume?: string; out?: string; quiet?: boolean; virtual?: boolean }) => {
      setCode(await sweepCommand(file, o));
    });
}
