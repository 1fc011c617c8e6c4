/**
 * Writes dashboards/<name>.json for every dashboard built in dashboards/src.
 *   npm run dashboards            regenerate the files
 *   npm run dashboards -- --check exit 1, listing the files that differ from what would be written
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allDashboards, renderDashboard } from './index.ts';

const DIR = dirname(fileURLToPath(import.meta.url));

function main(argv: string[]): number {
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    process.stderr.write(`usage: node --import tsx dashboards/generate.ts [--check]\nunknown argument: ${unknown.join(' ')}\n`);
    return 2;
  }
  const check = argv.includes('--check');
  const differing: string[] = [];
  for (const { name, json } of allDashboards()) {
    const file = join(DIR, `${name}.json`);
    const text = renderDashboard(json);
    const current = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    const shown = relative(process.cwd(), file) || file;
    if (current === text) continue;
    if (check) {
      differing.push(shown);
    } else {
      writeFileSync(file, text);
      process.stdout.write(`wrote ${shown}\n`);
    }
  }
  if (check) {
    if (differing.length > 0) {
      process.stderr.write(`dashboards out of date (run \`npm run dashboards\`):\n${differing.map((f) => `  ${f}\n`).join('')}`);
      return 1;
    }
    process.stdout.write('dashboards up to date\n');
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
