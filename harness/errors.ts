/**
 * Coded errors for configuration and usage problems (thrown before any traffic is sent).
 *
 * A failed *request* is never an exception: it is data on its RequestRecord (see
 * harness/client/request-error-codes.ts). Callers and tests match on `code`, never on message
 * text; every code here is documented in docs/errors.md (a test checks it).
 */

/** One problem found in a configuration file: where it is, what is wrong, what is allowed. */
export interface ConfigIssue {
  /** Stable error code, e.g. FG_SCENARIO_UNKNOWN_KEY. */
  code: string;
  /** File the problem is in (path as given by the user), or '<inline>'. */
  file: string;
  /** 1-based line and column; 0 when the problem has no position (e.g. a missing file). */
  line: number;
  col: number;
  /** Dotted field path, e.g. `load.stages[1].rate`. Empty for the document itself. */
  path: string;
  /** Human sentence quoting the bad value and what is allowed. */
  message: string;
  /** The offending value, when there is one. */
  value?: unknown;
  /** What is allowed, when it can be listed. */
  allowed?: string;
}

/** Base class of every coded error Floodgate throws. */
export class FloodgateError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'FloodgateError';
  }
}

/**
 * A configuration file (scenario, stack) with one or more problems. Carries every problem at
 * once; `code` is the first issue's code, or FG_CONFIG_INVALID when several codes are mixed.
 */
export class ConfigError extends FloodgateError {
  readonly issues: readonly ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    const codes = new Set(issues.map((i) => i.code));
    const code = codes.size === 1 ? issues[0]!.code : 'FG_CONFIG_INVALID';
    super(code, formatIssues(issues));
    this.issues = issues;
    this.name = 'ConfigError';
  }
}

/** `file:line:col  CODE  path: message` — one line per issue. */
export function formatIssues(issues: readonly ConfigIssue[]): string {
  return issues
    .map((i) => {
      const where = i.line > 0 ? `${i.file}:${i.line}:${i.col}` : i.file;
      const field = i.path ? `${i.path}: ` : '';
      return `${where}  ${i.code}  ${field}${i.message}`;
    })
    .join('\n');
}

/** Bad command-line usage (unknown flag value, conflicting options). Exit code 2. */
export class UsageError extends FloodgateError {
  constructor(code: string, message: string) {
    super(code, message);
    this.name = 'UsageError';
  }
}

/** The run could not be carried out (target unreachable, client saturated, aborted). Exit 3. */
export class RunError extends FloodgateError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'RunError';
  }
}

/** Exit codes of `harness` (DESIGN.md). */
export const ExitCode = {
  OK: 0,
  THRESHOLD_FAILED: 1,
  INVALID: 2,
  RUN_FAILED: 3,
} as const;
