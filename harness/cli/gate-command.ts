/**
 * `harness gate RUN --baseline BASE [--max-regression SPEC]`: exit 1 when a metric of RUN
 * regressed against BASE beyond its limit and beyond noise (harness/compare/gate.ts), with a
 * table explaining each metric; 0 otherwise; 2 for a bad spec or a folder that cannot be read.
 * BASE is a run folder or a committed baseline (summary.json + requests.jsonl).
 */
import type { Command } from 'commander';
import { ExitCode } from '../errors.ts';
import { buildComparison } from '../compare/comparison.ts';
import { loadRunSample } from '../compare/run-sample.ts';
import { DEFAULT_GATE_SPEC, parseGateSpec } from '../compare/gate-spec.ts';
import { evaluateGate } from '../compare/gate.ts';
import { renderGateMarkdown, renderGateTable } from '../compare/gate-render.ts';
import { bootstrapOptions, writeOutput } from './compare-command.ts';

export function gateCommand(run: string, o: Record<string, unknown>): number {
  const spec = typeof o.maxRegression === 'string' ? o.maxRegression : DEFAULT_GATE_SPEC;
  const limits = parseGateSpec(spec);
  const opts = bootstrapOptions(o);
  const base = loadRunSample(String(o.baseline));
  const sample = loadRunSample(run);
  const c = buildComparison([base, sample], opts);
  const g = evaluateGate(c.against[0]!.metrics, limits);
  const ctx = { run, baseline: String(o.baseline), confidence: c.confidence, notes: c.notes };
  const json =
    JSON.stringify(
      { pass: g.pass, failed: g.failed, run, baseline: ctx.baseline, spec, rows: g.rows, comparison: c },
      null,
      2,
    ) + '\n';
  if (o.json === true) process.stdout.write(json);
  else process.stdout.write(renderGateTable(g, ctx));
  if (typeof o.json === 'string') writeOutput(o.json, json);
  if (typeof o.md === 'string') writeOutput(o.md, renderGateMarkdown(g, ctx));
  return g.pass ? ExitCode.OK : ExitCode.THRESHOLD_FAILED;
}

export function registerGateCommand(program: Command, setCode: (c: number) => void): void {
  program
    .command('gate')
    .description('fail (exit 1) when a run regressed against a baseline beyond the allowed limits and beyond run-to-run noise')
    .argument('<run>', 'run folder')
    .requiredOption('--baseline <dir>', 'baseline: a run folder, or a folder with summary.json + requests.jsonl')
    .option('--max-regression <spec>', `allowed regressions, metric=limit[,...] (default ${DEFAULT_GATE_SPEC})`)
    .option('--md <file>', 'also write the explanation as Markdown (e.g. for $GITHUB_STEP_SUMMARY)')
    .option('--json [file]', 'write the result as JSON to FILE, or to stdout instead of the table')
    .option('--seed <n>', 'bootstrap seed (default 1)')
    .option('--resamples <n>', 'bootstrap resamples (default 2000)')
    .action((run: string, o: Record<string, unknown>) => {
      setCode(gateCommand(run, o));
    });
}
