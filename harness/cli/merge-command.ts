/**
 * `harness merge DIR... [--out DIR] [--allow-partial]` (docs/distributed.md): the run folders of
 * the shards of one plan (`harness run --shard I/N`) become one run folder (summary.json,
 * requests.jsonl, timeseries.json, server.json, report.html, summary.md, junit.xml) with the
 * scenario's thresholds evaluated on the merged figures. Exit 0; 1 when a threshold failed; 2 on
 * bad input (FG_MERGE_*, FG_REPORT_*), nothing written.
 */
import { mergeRuns } from '../shard/merge-runs.ts';
import { renderSummary } from '../report/console-summary.ts';
import { reportError } from './main.ts';

export function mergeCommand(dirs: string[], o: { out?: string; allowPartial?: boolean; json?: boolean }): number {
  try {
    const outcome = mergeRuns(dirs, { ...(o.out !== undefined ? { outDir: o.out } : {}), allowPartial: Boolean(o.allowPartial) });
    const s = outcome.summary.shard;
    const n = s && 'merged_from' in s ? s.merged_from : dirs.length;
    if (o.json) process.stdout.write(JSON.stringify(outcome.summary, null, 2) + '\n');
    else process.stdout.write(`merged ${n} shard${n === 1 ? '' : 's'} -> ${outcome.outDir}\n${renderSummary(outcome.summary, outcome.outDir)}\n`);
    for (const r of outcome.reasons) process.stderr.write(`${r}\n`);
    return outcome.exitCode;
  } catch (e) {
    return reportError(e);
  }
}
