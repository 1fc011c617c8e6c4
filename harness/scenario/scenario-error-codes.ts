/**
 * The error codes a scenario file can produce, each with its one-line meaning. Every code the
 * loader emits is a key here (a test checks it), and docs/scenarios.md explains each one.
 */

/** Scenario error code -> what it means. Callers and tests match on the code, never on messages. */
export const SCENARIO_ERROR_CODES: Record<string, string> = {
  FG_SCENARIO_NOT_FOUND: 'the scenario file does not exist or cannot be read',
  FG_SCENARIO_YAML_SYNTAX: 'the file is not valid YAML',
  FG_SCENARIO_UNKNOWN_KEY: 'a key the schema does not know at that level (often a typo)',
  FG_SCENARIO_MISSING_FIELD: 'a required field is absent or empty',
  FG_SCENARIO_TYPE: 'a value has the wrong YAML type (e.g. a string where a number belongs)',
  FG_SCENARIO_BAD_VALUE: 'a value is out of range, not one of the allowed words, or otherwise invalid',
  FG_SCENARIO_BAD_DURATION: 'a duration is not written like 500ms, 30s, 2m or 1h',
  FG_SCENARIO_CONFLICT: 'two settings exclude each other, or one only applies when another is set',
  FG_SCENARIO_RESERVED_FIELD: 'target.body sets a request field the harness controls itself',
  FG_SCENARIO_BAD_THRESHOLD: 'a threshold expression cannot be parsed, or names a stage the scenario does not have',
  FG_SCENARIO_THRESHOLD_METRIC: 'a threshold names a metric path that summary.json cannot have (the nearest one is suggested)',
  FG_SCENARIO_THRESHOLD_UNIT: "a threshold's unit does not fit its metric (% on a latency, ms on a count)",
  FG_SCENARIO_EMPIRICAL_FILE: 'an empirical length file is missing, unreadable, malformed or empty',
  FG_SCENARIO_EMPIRICAL_VALUE: 'a row of an empirical length file is not a non-negative integer',
  FG_SCENARIO_IS_SWEEP: 'a sweep file was given where a scenario file is expected: run it with `harness sweep`',
  FG_SCENARIO_STACK_FILE: 'the stack file named by `stack` is missing, unreadable or not a valid stack file',
  FG_SCENARIO_STACK_TENANT: 'the stack gives the harness no key to run with: an unknown tenant, a tenant without a development key, or no tenant at all',
  FG_SCENARIO_STACK_WITH_TARGET: '`stack` (a stack the harness starts) and `target.url` (a running server) are both set',
  FG_SCENARIO_OBSERVE_URL: 'an observe endpoint or Prometheus URL is not an http(s) URL',
  FG_SCENARIO_OBSERVE_LISTEN: 'observe.metrics_listen is not host:port, a port, or off',
  FG_SCENARIO_TRACE_FILE: 'the trace file of workload.trace is missing or unreadable',
  FG_SCENARIO_DATASET_FILE: 'the dataset file of workload.dataset is missing or unreadable',
  FG_DATASET_BAD_ENTRY: "an entry of the dataset is malformed (bad JSON, a wrong type); reported at the JSONL file's line or the JSON array's entry index, never quoting the entry's text",
  FG_DATASET_EMPTY: 'the dataset holds no usable entry (every entry was skipped, or the file is empty)',
  FG_TRACE_BAD_ROW: 'a row of the trace file is malformed (bad JSON or CSV, a missing field, a non-number, a negative length, an unparseable time); reported at the trace file\'s line and column',
  FG_TRACE_COLUMN: 'a CSV trace has no column of a name the format or the fields mapping needs',
  FG_TRACE_EMPTY: 'the trace file holds no rows, or none is left to send after the window, cut and filters',
  FG_TRACE_UNMAPPED_MODEL: 'a model of the trace is not in workload.trace.models (and unmapped is error)',
};

