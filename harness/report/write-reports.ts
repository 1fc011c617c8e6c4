/**
 * The reports rendered from a finished run folder's saved data, written next to it: report.html
 * (self-contained, harness/report/html/), summary.md (CI step summaries, pull-request comments)
 * and junit.xml (one test case per threshold). Called at the end of every run
 * (harness/run/run-scenario.ts) and by `harness report DIR`, so a folder re-rendered later gets
 * exactly what the run wrote.
 */
import fs from 'node:fs';
import path from 'node:path';
import { loadRunData, type RunData } from './run-data.ts';
import { renderSummaryMarkdown } from './markdown.ts';
import { renderJunitXml } from './junit.ts';
import { renderHtmlReport, REPORT_FILE } from './html/html-report.ts';

/** The files writeRunReports writes, in the run folder. */
export const REPORT_FILES = [REPORT_FILE, 'summary.md', 'junit.xml'] as const;

/**
 * Render the reports of the run folder `dir` from its saved files and write them into it.
 * `data`: the folder already read (loadRunData, with its requests: the HTML report's CDFs and
 * error examples come from them); read here when not given. Returns the paths written.
 * @throws UsageError FG_REPORT_* when the folder is not a readable run folder (run-data.ts).
 */
export function writeRunReports(dir: string, data: RunData = loadRunData(dir)): string[] {
  const out: Array<[string, string]> = [
    [REPORT_FILE, renderHtmlReport(data)],
    ['summary.md', renderSummaryMarkdown(data)],
    ['junit.xml', renderJunitXml(data)],
  ];
  return out.map(([name, text]) => {
    const file = path.join(dir, name);
    // Through a temporary name: a reader never sees half a file.
    fs.writeFileSync(`${file}.tmp`, text);
    fs.renameSync(`${file}.tmp`, file);
    return file;
  });
}
