/**
 * The committed deployment examples: reference-stack/deploy/compose/ and reference-stack/deploy/k8s/
 * are the renders of reference-stack/stacks/default.yaml. Run after changing a renderer, the
 * default stack, the rules or the dashboards:
 *
 *   node --import tsx scripts/render-deploy-examples.ts      (npm run deploy-examples)
 *
 * test/unit/stack-render.test.ts checks that the committed files are exactly what this writes.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStack } from '../reference-stack/stack/load-stack.ts';
import { REPO_ROOT } from '../reference-stack/deploy/render/render-common.ts';
import { renderStack, writeRendered, type RenderFormat } from '../reference-stack/deploy/render/render-files.ts';

export const EXAMPLE_STACK = 'reference-stack/stacks/default.yaml';
export const EXAMPLE_COMMAND = 'npm run deploy-examples';

/** Each example folder (relative to the repository) with the files it must hold. */
export function deployExamples(): Array<{ dir: string; format: RenderFormat; files: Map<string, string> }> {
  const stack = loadStack(path.join(REPO_ROOT, EXAMPLE_STACK), { env: {} });
  return (['compose', 'k8s'] as const).map((format) => {
    const dir = `reference-stack/deploy/${format}`;
    const files = renderStack(stack, format, {
      stackLabel: EXAMPLE_STACK,
      command: EXAMPLE_COMMAND,
      buildContext: path.relative(path.join(REPO_ROOT, dir), REPO_ROOT).split(path.sep).join('/'),
    });
    return { dir, format, files };
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  for (const { dir, files } of deployExamples()) {
    const written = writeRendered(path.join(REPO_ROOT, dir), files);
    process.stdout.write(`${dir}: ${written.length} files\n`);
  }
}
