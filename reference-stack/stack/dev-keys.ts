/**
 * Development keys of the shipped stacks. Only their hashes are in stack files; `stack up` prints
 * the ones whose hash a tenant of the running stack holds, and a scenario's `stack:` block picks
 * one of them to send. Never use them outside a local stack.
 */
export const DEV_KEYS: readonly string[] = ['fg-dev-free', 'fg-dev-pro'];
