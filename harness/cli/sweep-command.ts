/**
 * `harness sweep FILE [--resume DIR] [--out DIR]`: run a tuning sweep (harness/sweep/) and write
 * <dir>/sweep.json and <dir>/sweep.md. Exit 0 when it ran, 2 for a bad sweep file or folder,
 * 3 when a measurement could not be carried out.
 */
import type { Command } from 'commander';
import { ExitCode } from '../errors.ts';
import { loadSweep } from '../sweep/sweep-file.ts';
import { runSweep } from '../sweep/run-sweep.ts';

export async function sweepCommand(file: string, o: { resume?: string; out?: string; quiet?: boolean }): Promise<number> {
  const spec = loadSweep(file);
  const measurements = spec.load.kind === 'rates' ? `${spec.load.rates.length} rate(s)` : 'a saturation search';
  process.stderr.write(`sweep ${spec.name}: ${spec.cells.length} cell(s) x ${measurements}, fresh stack per measurement\n`);
  const { dir, result } = await runSweep(spec, {
    ...(o.resume !== undefined ? { resumeDir: o.resume } : {}),
    ...(o.out !== undefined ? { outDir: o.out } : {}),
    onProgress: (line) => {
      if (!o.quiet) process.stderr.write(`  ${line}\n`);
    },
  });
  const best = result.best;
  process.stdout.write(
    best
      ? `best: ${best.cell} at ${best.rate?.toFixed(2)} req/s${best.cost_per_1m_output_tokens !== null ? `, ${best.cost_per_1m_output_tokens.toFixed(3)} per 1M output tokens` : ''}\n`
      : 'no configuration met the target goodput fraction\n',
  );
  process.stdout.write(`${dir}/sweep.json\n${dir}/sweep.md\n`);
  return ExitCode.OK;
}

export function registerSweepCommand(program: Command, setCode: (c: number) => void): void {
  program
    .command('sweep')
    .description('tuning sweep: a scenario against a matrix of stack parameters at fixed rates or by saturation search; writes reports/<sweep>-<UTC time>/sweep.json and sweep.md')
    .argument('<file>', 'sweep file (YAML)')
    .option('--resume <dir>', 'resume the sweep in this folder: measurements already in its sweep.json are not redone')
    .option('-o, --out <dir>', 'sweep folder (default reports/<name>-<UTC time>)')
    .option('-q, --quiet', 'no progress lines')
    .action(async (file: string, o: { resume?: string; out?: string; quiet?: boolean }) => {
      setCode(await sweepCommand(file, o));
    });
}
