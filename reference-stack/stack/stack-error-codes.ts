/**
 * The error codes a stack file can produce, each with its one-line meaning. Every code the stack
 * loader emits is a key here (a test checks it), and docs/stack.md explains the schema.
 *
 * The first eight mean what their FG_SCENARIO_ namesakes mean (the stack loader reuses the
 * scenario's YAML node reader and renames its codes); FG_STACK_BAD_REFERENCE is the stack's own.
 */

/** Stack error code -> what it means. Callers and tests match on the code, never on messages. */
export const STACK_ERROR_CODES: Record<string, string> = {
  FG_STACK_NOT_FOUND: 'the stack file does not exist or cannot be read',
  FG_STACK_YAML_SYNTAX: 'the stack file is not valid YAML',
  FG_STACK_UNKNOWN_KEY: 'a key the stack schema does not know at that level (often a typo)',
  FG_STACK_MISSING_FIELD: 'a required stack field is absent or empty',
  FG_STACK_TYPE: 'a stack value has the wrong YAML type (e.g. a string where a number belongs)',
  FG_STACK_BAD_VALUE:
    'a stack value is out of range, not one of the allowed words, an unknown GPU or model, a malformed key hash, or a simulated worker configuration vLLM would refuse',
  FG_STACK_BAD_DURATION: 'a stack duration is not written like 500ms, 30s, 2m or 1h',
  FG_STACK_CONFLICT: 'two stack settings exclude each other, or a name, alias, key hash or port is used twice',
  FG_STACK_BAD_REFERENCE:
    'a model names an unknown worker or fallback model, fallbacks form a cycle, or a tenant allows an unknown model',
};
