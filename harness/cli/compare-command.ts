/**
 * `harness compare RUN_A RUN_B [RUN_C...]`: the key metrics of each run side by side with the
 * first (the reference): changes, bootstrap intervals, verdicts, and a bar chart of the key
 * percentiles; `--md FILE` and `--json [FILE]` write the comparison. Informational: exit 0
 * whatever the verdicts (`harness gate` is the one that fails); 2 for bad usage or a folder that
 * cannot be read. The work is in harness/compare/.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { ExitCode, RunError, UsageError } from '../errors.ts';
import { buildComparison } from '../compare/comparison.ts';
import { loadRunSample } from '../compare/run-sample.ts';
import { renderCompareChart, renderCompareMarkdown, renderCompareTable } from '../compare/compare-render.ts';
import type { CompareOptions } from '../compare/compare-runs.ts';

/** --seed and --resamples, checked. */
export function bootstrapOptions(o: Record<string, unknown>): CompareOptions {
  const out: CompareOptions = {};
  if (o.seed !== undefined) {
    const n = Number(o.seed);
    if (!Number.isSafeInteger(n)) throw new UsageError('FG_USAGE_BAD_NUMBER', `--seed takes a whole number, got "${String(o.seed)}"`);
    out.seed = n;
  }
  if (o.resamples !== undefined) {
    const n = Number(o.resamples);
    if (!Number.isInteger(n) || n < 100 || n > 100_000) throw new UsageError('FG_USAGE_BAD_NUMBER', `--resamples takes a whole number from 100 to 100000, got "${String(o.resamples)}"`);
    out.resamples = n;
  }
  return out;
}

/** Writes an output file (its folder made first); a failure is FG_COMPARE_WRITE (exit 3). */
export function writeOutput(file: string, text: string): void {
  try {
    fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    fs.writeFileSync(file, text);
  } catch (e) {
    throw new RunError('FG_COMPARE_WRITE', `${file}: cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { cause: e });
  }
}

export function compareCommand(dirs: string[], o: Record<string, unknown>): number {
  if (dirs.length < 2) throw new UsageError('FG_COMPARE_RUNS', `compare needs at least two run folders (the first is the reference), got ${dirs.length}`);
  const opts = bootstrapOptions(o);
  const runs = dirs.map((d) => loadRunSample(d));
  const c = buildComparison(runs, opts);
  const json = JSON.stringify(c, null, 2) + '\n';
  if (o.json === true) process.stdout.write(json);
  else {
    process.stdout.write(`${renderCompareTable(c)}\n`);
    if (o.chart !== false) process.stdout.write(`${renderCompareChart(c)}`);
  }
  if (typeof o.json === 'string') writeOutput(o.json, json);
  if (typeof o.md === 'string') writeOutput(o.md, renderCompareMarkdown(c));
  return ExitCode.OK;
}

export function registerCompareCommand(program: Command, setCode: (c: number) => void): void {
  program
    .command('compare')
    .description('compare runs side by side against the first: changes, 95% bootstrap intervals, "better" / "worse" / "within noise"')
    .argument('<runs...>', 'run folders (or baseline folders: summary.json + requests.jsonl); the first is the reference')
    .option('--md <file>', 'also write the comparison as a Markdown table')
    .option('--json [file]', 'write the full comparison as JSON to FILE, or to stdout instead of the table')
    .option('--no-chart', 'no bar chart under the table')
    .option('--seed <n>', 'bootstrap seed (default 1)')
    .option('--resamples <n>', 'bootstrap resamples (default 2000)')
    .action((dirs: string[], o: Record<string, unknown>) => {
      setCode(compareCommand(dirs, o));
    });
}
