/**
 * bench/report-open: how big report.html is for a 100,000-request run, and how long it takes to
 * open. A synthetic run folder (synthetic-run.ts: 100,000 requests over an hour, one server
 * sample a second) is rendered with renderHtmlReport, then opened from disk in Debian's chromium
 * (playwright-core, offline) several times, each in a fresh browser context. Open time is the
 * page's own clock from navigation start to the later of: every chart drawn once (the
 * `floodgate-charts-drawn` performance mark the report's script sets), the load event's end, and
 * the first contentful paint; the time seen from Node (goto() to the ready flag) is printed too.
 *
 *   npm run bench -- report-open [--requests 100000] [--seconds 3600] [--runs 5]
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { loadRunData } from '../../harness/report/run-data.ts';
import { renderHtmlReport } from '../../harness/report/html/html-report.ts';
import { writeSyntheticRun } from './synthetic-run.ts';

const CHROMIUM = '/usr/bin/chromium';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

interface OpenTiming {
  /** Seen from Node: page.goto() called -> ready flag seen (includes the protocol's round trips). */
  wallMs: number;
  chartsDrawnMs: number;
  firstPaintMs: number;
  domContentLoadedMs: number;
  loadMs: number;
  charts: number;
}

export async function main(): Promise<void> {
  const requests = Number(arg('requests') ?? 100_000);
  const seconds = Number(arg('seconds') ?? 3600);
  const runs = Number(arg('runs') ?? 5);
  if (!fs.existsSync(CHROMIUM)) {
    console.log(`report-open: skipped, ${CHROMIUM} is missing (install Debian's chromium package)`);
    return;
  }
  console.log(`report-open: a synthetic run of ${requests.toLocaleString('en-US')} requests over ${seconds} s, opened ${runs} times in ${CHROMIUM}`);
  console.log(`machine: ${os.cpus()[0]?.model ?? 'unknown'} x ${os.availableParallelism()} cores, Node ${process.version}`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fg-report-open-'));
  try {
    writeSyntheticRun(dir, { requests, durationS: seconds });
    const requestsBytes = fs.statSync(path.join(dir, 'requests.jsonl')).size;
    const t0 = performance.now();
    const data = loadRunData(dir);
    const t1 = performance.now();
    const html = renderHtmlReport(data);
    const t2 = performance.now();
    const file = path.join(dir, 'report.html');
    fs.writeFileSync(file, html);
    const size = Buffer.byteLength(html);

    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    const timings: OpenTiming[] = [];
    try {
      for (let i = 0; i < runs; i++) {
        const context = await browser.newContext({ offline: true, viewport: { width: 1280, height: 800 } });
        const errors: string[] = [];
        const page = await context.newPage();
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        page.on('pageerror', (e) => errors.push(e.message));
        const w0 = performance.now();
        await page.goto(pathToFileURL(file).href);
        await page.waitForFunction(() => (window as unknown as { floodgateReport?: { ready: boolean } }).floodgateReport?.ready === true, null, { timeout: 60_000, polling: 'raf' });
        const wallMs = performance.now() - w0;
        // The load event's end and the first paint can be recorded after the charts are drawn.
        await page.waitForFunction(() => {
          const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined;
          return !!nav && nav.loadEventEnd > 0 && performance.getEntriesByName('first-contentful-paint').length > 0;
        }, null, { timeout: 60_000 });
        const t = await page.evaluate(() => {
          const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
          const mark = performance.getEntriesByName('floodgate-charts-drawn')[0];
          return {
            chartsDrawnMs: mark ? mark.startTime : Number.NaN,
            firstPaintMs: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? Number.NaN,
            domContentLoadedMs: nav.domContentLoadedEventEnd,
            loadMs: nav.loadEventEnd,
            charts: (window as unknown as { floodgateReport: { drawn: number } }).floodgateReport.drawn,
          };
        });
        if (errors.length) console.log(`  run ${i + 1}: console errors: ${errors.join(' | ')}`);
        timings.push({ ...t, wallMs });
        await context.close();
      }
    } finally {
      await browser.close();
    }
    console.log(`requests.jsonl ${(requestsBytes / 1e6).toFixed(1)} MB; read ${(t1 - t0).toFixed(0)} ms, rendered ${(t2 - t1).toFixed(0)} ms`);
    // Opened: every chart drawn, the load event over and the first paint done, whichever is last.
    const opened = timings.map((t) => Math.max(t.chartsDrawnMs, t.loadMs, t.firstPaintMs));
    const med = (f: (t: OpenTiming) => number) => median(timings.map(f)).toFixed(0);
    console.log('| report.html | charts | first paint (ms) | charts drawn (ms) | load (ms) | opened (ms): median | max | goto -> ready, from Node (ms) |');
    console.log('|---|---|---|---|---|---|---|---|');
    console.log(`| ${(size / 1e6).toFixed(2)} MB (${size.toLocaleString('en-US')} bytes) | ${timings[0]?.charts ?? 0} | ${med((t) => t.firstPaintMs)} | ${med((t) => t.chartsDrawnMs)} | ${med((t) => t.loadMs)} | ${median(opened).toFixed(0)} | ${Math.max(...opened).toFixed(0)} | ${med((t) => t.wallMs)} |`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
