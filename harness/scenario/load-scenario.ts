/**
 * Loading a scenario: read the file, parse the YAML, interpolate the environment, apply
 * overrides, validate against the schema and return a deep-frozen Scenario, or throw one
 * ConfigError that lists every problem found (never the first one only).
 *
 * Order matters: syntax errors stop everything (a broken tree cannot be validated usefully);
 * interpolation and overrides happen before validation so their values are checked like any
 * other; nothing is returned half-valid.
 */

import { dirname } from 'node:path';
import { ConfigError } from '../errors.ts';
import type { Scenario } from './scenario-types.ts';
import { applyOverrides } from './scenario-overrides.ts';
import { readScenario } from './scenario-schema.ts';
import { openYamlDocument, readConfigFile } from './yaml-document.ts';
import { deepFreeze } from '../util/deep-freeze.ts';
import { looksLikeSweep } from '../sweep/sweep-detect.ts';

/** Options of loadScenario / parseScenario. */
export interface LoadOptions {
  /** Variables for `${VAR}` interpolation. Default: process.env. */
  env?: Record<string, string | undefined>;
  /**
   * Values set by dotted path before validation, e.g. `{'target.url': 'http://127.0.0.1:9/v1',
   * 'seed': 7, 'load.stages[0].rate': 3}`. A string is read like an unquoted YAML value (`'7'` is
   * a number where a number belongs); issues in them point at `<command line>`.
   */
  overrides?: Record<string, unknown>;
  /** Directory relative paths in the file (empirical data, `stack`) start from. Default: the scenario file's directory. */
  baseDir?: string;
}

/**
 * Read, validate and freeze the scenario at `path`.
 * @throws ConfigError with every issue (FG_SCENARIO_NOT_FOUND when the file cannot be read).
 */
export function loadScenario(path: string, options: LoadOptions = {}): Scenario {
  const text = readConfigFile(path, 'FG_SCENARIO_NOT_FOUND', 'scenario');
  return parseScenario(text, path, options);
}

/**
 * Validate and freeze a scenario given as YAML text. `file` names it in messages and in
 * Scenario.file; relative paths inside start from `options.baseDir`, else `dirname(file)`.
 * @throws ConfigError with every issue.
 */
export function parseScenario(text: string, file: string, options: LoadOptions = {}): Scenario {
  const env = options.env ?? process.env;
  const baseDir = options.baseDir ?? dirname(file);
  const { doc, reader: r } = openYamlDocument(text, file, env, 'FG_SCENARIO_YAML_SYNTAX');
  if (looksLikeSweep(doc.toJS())) {
    throw new ConfigError([{ code: 'FG_SCENARIO_IS_SWEEP', file, line: 1, col: 1, path: '', message: `this is a sweep file (it names a scenario and a matrix, zip or load search): run it with \`harness sweep ${file}\``, allowed: 'a scenario file' }]);
  }
  if (options.overrides && doc.contents !== null) applyOverrides(doc, r, options.overrides);
  const scenario = readScenario(r, doc.contents, { file, baseDir, env });
  if (r.issues.length > 0 || !scenario) throw new ConfigError(r.issues);
  return deepFreeze(scenario);
}

