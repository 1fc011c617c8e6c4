/**
 * The `harness` command line: thin. commander parses arguments and calls library functions;
 * every command returns its exit code (DESIGN.md: 0 ok, 1 threshold/gate failed, 2 bad usage or
 * invalid file, 3 the run could not be carried out).
 */
import { Command, CommanderError } from 'commander';
import { runCommand } from './run-command.ts';
import { validateCommand } from './validate-command.ts';
import { reportCommand } from './report-command.ts';
import { registerStackCommands } from './stack-command.ts';
import { registerCompareCommand } from './compare-command.ts';
import { registerGateCommand } from './gate-command.ts';
import { ConfigError, ExitCode, FloodgateError, formatIssues } from '../errors.ts';
import { harnessVersion } from '../run/run-scenario.ts';

export async function main(argv: string[]): Promise<number> {
  let code: number = ExitCode.OK;
  const program = new Command('harness')
    .description('Floodgate: replay LLM traffic against an OpenAI-compatible endpoint and measure TTFT, ITL, throughput and goodput')
    .version(harnessVersion())
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command('run')
    .description('run a scenario and write reports/<name>-<UTC time>/ (summary.json, requests.jsonl, timeseries.json, server.json, report.html, summary.md, junit.xml)')
    .argument('<scenario>', 'scenario file (YAML)')
    .option('-t, --target <url>', 'base URL of the OpenAI-compatible API, including /v1 (overrides target.url)')
    .option('-m, --model <name>', 'model name (overrides target.model)')
    .option('--api-key <key>', 'API key (overrides target.api_key; prefer ${FLOODGATE_API_KEY} in the file)')
    .option('--seed <n>', 'seed of the plan (overrides seed)')
    .option('--set <path=value...>', 'override any scenario field, e.g. --set load.stages[0].rate=10', collect, [])
    .option('-o, --out <dir>', 'run folder (default reports/<name>-<UTC time>)')
    .option('--threads <n>', 'client threads (overrides client.threads; 0 = main thread)')
    .option('--allow-saturated', 'exit 0 even if the client could not keep to the schedule (still reported)')
    .option('--json', 'print summary.json to stdout instead of the table')
    .option('-q, --quiet', 'no progress line')
    .option('--metrics-listen <host:port|off>', "serve the harness's own /metrics during the run here (default observe.metrics_listen, else 127.0.0.1:9464; off: none)")
    .option('--shard <I/N>', 'distributed load: send shard I (0-based) of N of the plan; merge the shards with harness merge (docs/distributed.md)')
    .option('--start-at <time>', 'common start (t = 0) of every shard: ISO-8601 with zone (2026-03-01T12:00:00Z) or now+30s; default: at once')
    .action(async (file: string, o: Record<string, unknown>) => {
      code = await runCommand(file, o);
    });

  program
    .command('merge')
    .description('merge the run folders of the shards of one plan (harness run --shard I/N) into one run folder, thresholds evaluated on the merged run')
    .argument('<dirs...>', 'shard run folders')
    .option('-o, --out <dir>', 'merged run folder (default: merged/ next to the first shard folder)')
    .option('--allow-partial', 'merge even when some shards are missing (the run is marked incomplete)')
    .option('--json', 'print the merged summary.json to stdout instead of the table')
    .action(async (dirs: string[], o: { out?: string; allowPartial?: boolean; json?: boolean }) => {
      code = (await import('./merge-command.ts')).mergeCommand(dirs, o);
    });

  registerStackCommands(program, (c) => (code = c), reportError);

  program
    .command('validate')
    .description('check scenario files without sending anything; every problem at once, as file:line:col')
    .argument('<files...>', 'scenario files')
    .action((files: string[]) => {
      code = validateCommand(files);
    });

  registerCompareCommand(program, (c) => (code = c));
  registerGateCommand(program, (c) => (code = c));
  (await import('./sweep-command.ts')).registerSweepCommand(program, (c) => (code = c));
  (await import('./export-command.ts')).registerExportCommand(program, (c) => (code = c));

  program
    .command('report')
    .description('render report.html, summary.md and junit.xml of finished run folders again from their saved data')
    .argument('<dirs...>', 'run folders (reports/<name>-<UTC time>/)')
    .option('--print', 'also print summary.md to stdout (e.g. >> $GITHUB_STEP_SUMMARY)')
    .action((dirs: string[], o: { print?: boolean }) => {
      code = reportCommand(dirs, o);
    });

  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? ExitCode.OK : ExitCode.INVALID;
    }
    return reportError(e);
  }
  return code;
}

function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Print a thrown error and map it to an exit code. */
export function reportError(e: unknown): number {
  if (e instanceof ConfigError) {
    process.stderr.write(`${formatIssues(e.issues)}\n${e.issues.length} problem${e.issues.length === 1 ? '' : 's'}; nothing was sent.\n`);
    return ExitCode.INVALID;
  }
  if (e instanceof FloodgateError) {
    process.stderr.write(`error ${e.code}: ${e.message}\n`);
    return e.name === 'RunError' ? ExitCode.RUN_FAILED : ExitCode.INVALID;
  }
  process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return ExitCode.RUN_FAILED;
}
