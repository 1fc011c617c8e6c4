/**
 * The first steps shared by every YAML configuration file (scenarios, stacks): `${ENV}`
 * references masked so they survive YAML's syntax, the document parsed with positions, every
 * syntax error reported at once (nothing else is checked then), and the references put back.
 */
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument, type Document } from 'yaml';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { applyEnvReferences, maskEnvReferences } from './env-interpolation.ts';
import { NodeReader } from './yaml-node-reader.ts';
import { whyUnreadable } from '../util/file-errors.ts';

export interface OpenedYaml {
  doc: Document.Parsed;
  /** Records issues with positions; the caller reads the document through it. */
  reader: NodeReader;
}

/**
 * Parse `text` (from `file`) with its environment references resolved.
 * @throws ConfigError listing every YAML syntax error, each with `syntaxCode`; `mapIssues`
 *   rewrites the issues of this and later errors (e.g. to another family of codes).
 */
export function openYamlDocument(
  text: string,
  file: string,
  env: Record<string, string | undefined>,
  syntaxCode: string,
  mapIssues: (issues: readonly ConfigIssue[]) => ConfigIssue[] = (i) => [...i],
): OpenedYaml {
  const masked = maskEnvReferences(text, env);
  const lineCounter = new LineCounter();
  const doc = parseDocument(masked.text, { lineCounter, prettyErrors: false });
  const reader = new NodeReader(file, lineCounter, doc);
  if (doc.errors.length > 0) {
    for (const err of doc.errors) {
      const at = lineCounter.linePos(err.pos[0]);
      reader.report(syntaxCode, { file, line: at.line, col: at.col }, '', yamlMessage(err.message), {
        allowed: 'valid YAML (quote values that contain ": ", " #", or start with a special character)',
      });
    }
    throw new ConfigError(mapIssues(reader.issues));
  }
  applyEnvReferences(doc, reader, masked.slots);
  return { doc, reader };
}

/** The parser's message without its trailing source excerpt, on one line. */
function yamlMessage(message: string): string {
  return message.split('\n')[0]!.replace(/\uFDD0\uFDD1*/g, '${...}');
}

/**
 * The text of a configuration file; an unreadable one is a ConfigError with `notFoundCode`
 * saying why (missing, a directory, or the system's reason). `what` names the kind of file.
 */
export function readConfigFile(path: string, notFoundCode: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const why = whyUnreadable(err);
    throw new ConfigError([
      { code: notFoundCode, file: path, line: 0, col: 0, path: '', message: `${what} file "${path}" ${why}`, value: path, allowed: `a readable ${what} YAML file` },
    ]);
  }
}
