/**
 * `harness run SCENARIO`: load and validate (exit 2 on any problem, nothing sent), run with a
 * live progress line, print the summary table, exit with the run's code. Ctrl-C once: stop
 * sending, give in-flight requests the drain period, write a partial report marked
 * incomplete. Ctrl-C twice: abort in-flight requests now. An abort_on_fail threshold that fails
 * during the run stops it the same way, says why, and the run exits 1.
 */
import { loadScenario } from '../scenario/load-scenario.ts';
import { runScenario } from '../run/run-scenario.ts';
import { createProgressPrinter } from '../report/progress-line.ts';
import { renderSummary } from '../report/console-summary.ts';
import { ExitCode, UsageError } from '../errors.ts';
import { reportError } from './main.ts';
import { parseShard, parseStartAt } from '../shard/shard-plan.ts';
import { DEFAULT_METRICS_LISTEN, LISTEN_ALLOWED, parseListen, type ListenAddress } from '../observe/listen-address.ts';

export async function runCommand(file: string, o: Record<string, unknown>): Promise<number> {
  try {
    const overrides: Record<string, unknown> = {};
    if (typeof o.target === 'string') overrides['target.url'] = o.target;
    if (typeof o.model === 'string') overrides['target.model'] = o.model;
    if (typeof o.apiKey === 'string') overrides['target.api_key'] = o.apiKey;
    if (typeof o.seed === 'string') overrides.seed = numberArg('--seed', o.seed);
    for (const kv of (o.set as string[] | undefined) ?? []) {
      const i = kv.indexOf('=');
      if (i <= 0) throw new UsageError('FG_USAGE_BAD_SET', `--set takes path=value, got "${kv}"`);
      overrides[kv.slice(0, i)] = parseSetValue(kv.slice(i + 1));
    }
    // --shard I/N and --start-at (docs/distributed.md): checked before the scenario is loaded.
    const shard = typeof o.shard === 'string' ? parseShard(o.shard) : undefined;
    const startAtMs = typeof o.startAt === 'string' ? parseStartAt(o.startAt) : undefined;
    const scenario = loadScenario(file, { overrides });
    const threads = typeof o.threads === 'string' ? numberArg('--threads', o.threads) : undefined;
    // The harness's own /metrics: --metrics-listen, else the scenario's observe.metrics_listen,
    // else 127.0.0.1:9464 (a taken port is a warning, never a failure).
    let metricsListen: ListenAddress | false = scenario.observe?.metricsListen ?? DEFAULT_METRICS_LISTEN;
    if (typeof o.metricsListen === 'string') {
      const parsed = parseListen(o.metricsListen);
      if (typeof parsed === 'string') throw new UsageError('FG_USAGE_BAD_LISTEN', `--metrics-listen: ${parsed}; expected ${LISTEN_ALLOWED}`);
      metricsListen = parsed;
    }

    const controller = new AbortController();
    let interrupts = 0;
    const onSigint = () => {
      interrupts++;
      if (interrupts === 1) {
        process.stderr.write(`\nstopping: no new requests; in-flight requests get ${scenario.load.drainMs / 1000}s (Ctrl-C again to abort them now)\n`);
        controller.abort();
      } else {
        process.stderr.write('\naborting in-flight requests\n');
        hard.abort();
      }
    };
    const hard = new AbortController();
    process.on('SIGINT', onSigint);
    process.on('SIGTERM', onSigint);
    const progress = o.quiet || o.json ? undefined : createProgressPrinter(process.stderr);
    try {
      const outcome = await runScenario(scenario, {
        ...(typeof o.out === 'string' ? { outDir: o.out } : {}),
        ...(threads !== undefined ? { threads } : {}),
        signal: controller.signal,
        hardSignal: hard.signal,
        allowSaturated: Boolean(o.allowSaturated),
        ...(shard ? { shard } : {}),
        ...(startAtMs !== undefined ? { startAtMs } : {}),
        onWaitStart: ({ startAt, waitMs }) => {
          const who = shard ? `shard ${shard.index}/${shard.count}` : 'run';
          process.stderr.write(`${who}: waiting for the common start ${startAt.toISOString()} (in ${(waitMs / 1000).toFixed(1)}s)\n`);
        },
        metricsListen,
        discoverMetrics: true,
        onMetricsListen: (url) => {
          process.stderr.write(`harness metrics at ${url} (during the run)\n`);
        },
        onWarning: (m) => process.stderr.write(`warning: ${m}\n`),
        onThresholdAbort: ({ threshold: t, atS, drainS }) => {
          process.stderr.write(`\nstopping at ${atS.toFixed(1)}s: abort_on_fail threshold "${t.expr}" failed (${t.reason ?? 'failed'}); no new requests, in-flight requests get ${drainS}s\n`);
        },
        onEmbedded: (description, url) => process.stderr.write(`no target.url: embedded stack: ${description} at ${url}\n`),
        onStart: ({ runDir, threads: t, plannedRequests }) => {
          const part = shard ? `, shard ${shard.index}/${shard.count}` : '';
          if (!o.quiet && !o.json) process.stderr.write(`running ${scenario.name} (${plannedRequests} open-loop requests planned${part}, ${t} client thread${t === 1 ? '' : 's'}) -> ${runDir}\n`);
        },
        ...(progress ? { onProgress: (p) => progress.update(p) } : {}),
      });
      progress?.done();
      if (o.json) process.stdout.write(JSON.stringify(outcome.summary, null, 2) + '\n');
      else process.stdout.write(renderSummary(outcome.summary, outcome.runDir) + '\n');
      for (const r of outcome.reasons) process.stderr.write(`${r}\n`);
      return outcome.exitCode;
    } finally {
      progress?.done();
      process.off('SIGINT', onSigint);
      process.off('SIGTERM', onSigint);
    }
  } catch (e) {
    return reportError(e);
  }
}

function numberArg(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UsageError('FG_USAGE_BAD_NUMBER', `${flag} takes a whole number >= 0, got "${v}"`);
  return n;
}

/** `--set k=v`: numbers and booleans as such, JSON for [..] / {..}, anything else a string. */
function parseSetValue(v: string): unknown {
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (v !== '' && !Number.isNaN(Number(v))) return Number(v);
  if (/^[[{]/.test(v)) {
    try {
      return JSON.parse(v);
    } catch {
      return v;
    }
  }
  return v;
}

export { ExitCode };
