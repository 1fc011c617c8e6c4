/**
 * The chart library the report inlines: uPlot (MIT, github.com/leeoniya/uPlot), read from
 * node_modules when a report is rendered, so a report needs nothing at view time. Its own header
 * comment is kept, and its licence is written before it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

export interface ChartLibrary {
  version: string;
  /** uPlot.iife.min.js, preceded by a comment with its licence. Defines the global `uPlot`. */
  script: string;
  css: string;
}

let cached: ChartLibrary | undefined;

export function chartLibrary(): ChartLibrary {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const pkgFile = require.resolve('uplot/package.json');
  const dir = path.dirname(pkgFile);
  const pkg = JSON.parse(fs.readFileSync(pkgFile, 'utf8')) as { version: string; license: string };
  const licence = fs.readFileSync(path.join(dir, 'LICENSE'), 'utf8').trim().replace(/\*\//g, '* /');
  const script = fs.readFileSync(path.join(dir, 'dist', 'uPlot.iife.min.js'), 'utf8');
  const css = fs.readFileSync(path.join(dir, 'dist', 'uPlot.min.css'), 'utf8');
  cached = {
    version: pkg.version,
    script: `/*! uPlot ${pkg.version}, ${pkg.license} licence:\n${licence}\n*/\n${script}`,
    css,
  };
  return cached;
}
