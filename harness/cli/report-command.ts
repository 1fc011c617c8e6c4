/**
 * `harness report DIR [DIR...]`: render a finished run folder's reports again from its saved
 * data (summary.json, timeseries.json, server.json, requests.jsonl): report.html, summary.md and
 * junit.xml, written into the folder as the run wrote them. `--print` also writes summary.md to stdout (for
 * `>> $GITHUB_STEP_SUMMARY`). A folder that is not a readable run folder is a coded error
 * (FG_REPORT_*, harness/report/run-data.ts): every folder is tried, then the command exits 2.
 */
import { loadRunData } from '../report/run-data.ts';
import { writeRunReports } from '../report/write-reports.ts';
import { renderSummaryMarkdown } from '../report/markdown.ts';
import { ExitCode } from '../errors.ts';
import { reportError } from './main.ts';

export function reportCommand(dirs: readonly string[], o: { print?: boolean } = {}): number {
  let code: number = ExitCode.OK;
  for (const dir of dirs) {
    try {
      const data = loadRunData(dir);
      const files = writeRunReports(dir, data);
      if (o.print) process.stdout.write(renderSummaryMarkdown(data) + '\n');
      process.stderr.write(`${dir}: wrote ${files.map((f) => f.slice(dir.length).replace(/^[\\/]/, '')).join(', ')}\n`);
    } catch (e) {
      code = Math.max(code, reportError(e));
    }
  }
  return code;
}
