/**
 * A scenario's `stack:`: which stack file the embedded stack runs (a scenario without
 * `target.url`), and which of its tenants the run acts as.
 *
 *     stack: stacks/small.yaml                      # a path, from the scenario's folder
 *     stack: {file: stacks/small.yaml, tenant: pro} # and the tenant whose development key is used
 *
 * Checked at load time, so `harness validate` finds what `harness run` would stumble on: the
 * file exists and is a valid stack file (its own FG_STACK_ problems are listed after one
 * FG_SCENARIO_STACK_FILE line, each at its position in the stack file), the tenant exists and
 * holds a development key, and the stack gives the harness some key to send at all.
 */

import { createHash } from 'node:crypto';
import { isAbsolute, join } from 'node:path';
import { isMap, isScalar } from 'yaml';
import { ConfigError } from '../errors.ts';
import { loadStack } from '../../reference-stack/stack/load-stack.ts';
import { DEV_KEYS } from '../../reference-stack/stack/dev-keys.ts';
import type { StackConfig } from '../../reference-stack/stack/stack-types.ts';
import { nearest } from '../util/did-you-mean.ts';
import type { ScenarioStack } from './scenario-types.ts';
import { describe, scalarValue, type MapView } from './yaml-node-reader.ts';

export const STACK_KEYS = ['file', 'tenant'] as const;

/** What `stack` may be, in words. */
export const STACK_SHAPE = 'a stack file path (relative to the scenario\'s folder, or absolute), or a map {file: <path>, tenant: <tenant name>}';
const FILE_ALLOWED = 'a readable stack file (docs/stack.md), relative to the scenario\'s folder or absolute';

/**
 * Read `stack` from the scenario's top-level map. `target` is the scenario's `target` map (for
 * the checks against target.url and target.api_key); `env` interpolates the stack file.
 * Returns undefined when `stack` is absent or invalid (issues are then recorded on `m.r`).
 */
export function readScenarioStack(
  m: MapView,
  target: MapView | undefined,
  baseDir: string,
  env: Record<string, string | undefined>,
): ScenarioStack | undefined {
  const r = m.r;
  const node = m.get('stack');
  if (node === undefined) return undefined;
  const before = r.issues.length;

  // Two forms: a path, or {file, tenant}.
  let fileNode: unknown;
  let filePath: string;
  let file: string | undefined;
  let tenant: string | undefined;
  let tenantNode: unknown;
  let sm: MapView | undefined;
  if (isMap(node)) {
    sm = r.asMap(node, 'stack')!;
    sm.checkKeys(STACK_KEYS);
    filePath = sm.pathOf('file');
    fileNode = sm.need('file', FILE_ALLOWED);
    file = fileNode === undefined ? undefined : r.str(fileNode, filePath);
    const t = sm.str('tenant');
    if (t !== undefined && t.trim() !== '') {
      tenant = t;
      tenantNode = sm.get('tenant');
    }
  } else if (isScalar(node) && typeof node.value === 'string') {
    filePath = 'stack';
    file = node.value;
    fileNode = node;
  } else {
    r.report('FG_SCENARIO_TYPE', node, 'stack', `expected ${STACK_SHAPE}, got ${describe(node)}`, { value: scalarValue(node), allowed: STACK_SHAPE });
    return undefined;
  }
  if (file !== undefined && file.trim() === '') {
    if (sm) sm.missing('file', '"file" must not be empty', FILE_ALLOWED);
    else r.report('FG_SCENARIO_MISSING_FIELD', node, 'stack', 'the stack file path is empty', { allowed: FILE_ALLOWED });
    file = undefined;
  }

  // `stack` starts a stack and runs against it; target.url names a running server: one or the other.
  const urlNode = target?.get('url');
  const withUrl = target !== undefined && urlNode !== undefined && !(isScalar(urlNode) && typeof urlNode.value === 'string' && urlNode.value.trim() === '');
  if (target && withUrl) {
    const stackKey = m.keyNode('stack');
    const urlKey = target.keyNode('url');
    const urlLater = r.offset(urlKey) >= r.offset(stackKey);
    r.report(
      'FG_SCENARIO_STACK_WITH_TARGET',
      urlLater ? urlKey : stackKey,
      urlLater ? target.pathOf('url') : 'stack',
      'a scenario has "stack" (a stack the harness starts and runs against) or "target.url" (a server already running), not both',
      { allowed: 'remove target.url to run against the stack, or remove stack to run against target.url (from the command line: --set stack= drops the stack)' },
    );
  }

  // target.api_key names the tenant by itself; stack.tenant picks a development key instead.
  // (read without reporting: readTarget reports a mistyped api_key already)
  const apiKey = target?.get('api_key');
  const apiKeyText = isScalar(apiKey) && ['string', 'number', 'boolean'].includes(typeof apiKey.value) && String(apiKey.value) !== '' ? String(apiKey.value) : undefined;
  if (tenant !== undefined && apiKeyText !== undefined && sm && target) {
    const keyLater = r.offset(target.keyNode('api_key')) >= r.offset(sm.keyNode('tenant'));
    r.report(
      'FG_SCENARIO_CONFLICT',
      keyLater ? target.keyNode('api_key') : sm.keyNode('tenant'),
      keyLater ? target.pathOf('api_key') : sm.pathOf('tenant'),
      `stack.tenant picks the development key of tenant "${tenant}", and target.api_key gives a key of its own; the run sends one key`,
      { allowed: 'stack.tenant or target.api_key, not both' },
    );
  }

  if (file === undefined) return undefined;
  const stackFile = isAbsolute(file) ? file : join(baseDir, file);
  let stack: StackConfig;
  try {
    stack = loadStack(stackFile, { env });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    const notFound = err.issues.find((i) => i.code === 'FG_STACK_NOT_FOUND');
    if (notFound) {
      r.report('FG_SCENARIO_STACK_FILE', fileNode, filePath, notFound.message, { value: stackFile, allowed: FILE_ALLOWED });
    } else {
      const n = err.issues.length;
      r.report('FG_SCENARIO_STACK_FILE', fileNode, filePath, `"${stackFile}" is not a valid stack file: ${n} problem${n === 1 ? '' : 's'}, listed with their positions in that file`, {
        value: stackFile,
        allowed: FILE_ALLOWED,
      });
      r.issues.push(...err.issues);
    }
    return undefined;
  }

  // (with target.url, the run would send its key to that server, not to this stack: nothing to check)
  if (!withUrl) checkKeyFor(m, target, stack, tenant, tenantNode, apiKeyText, fileNode, filePath);
  if (r.issues.length > before) return undefined;
  return { file: stackFile, name: stack.name, tenant };
}

/** Tenant name -> the development key it holds, for the tenants of `stack` that hold one. */
export function devKeyTenants(stack: StackConfig): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of DEV_KEYS) {
    const hash = createHash('sha256').update(key).digest('hex');
    const t = stack.tenants.find((x) => x.keyHashes.some((h) => h.replace(/^sha256:/i, '').toLowerCase() === hash));
    if (t && !out.has(t.name)) out.set(t.name, key);
  }
  return out;
}

/**
 * The stack's gateway refuses every request without a tenant's key: the run must have one, from
 * the named tenant's development key, the scenario's target.api_key, or a default development key.
 */
function checkKeyFor(
  m: MapView,
  target: MapView | undefined,
  stack: StackConfig,
  tenant: string | undefined,
  tenantNode: unknown,
  apiKey: string | undefined,
  fileNode: unknown,
  filePath: string,
): void {
  const r = m.r;
  const withKeys = devKeyTenants(stack);
  const devKeyList = DEV_KEYS.join(', ');
  const withKeysText = withKeys.size ? [...withKeys.keys()].join(', ') : undefined;
  const names = stack.tenants.map((t) => t.name);
  if (stack.tenants.length === 0) {
    r.report('FG_SCENARIO_STACK_TENANT', fileNode, filePath, `stack "${stack.name}" has no tenants, and its gateway refuses every request without a tenant's key`, {
      value: stack.file,
      allowed: `a stack with a tenant whose api_key_hashes hold the hash of a development key (${devKeyList}), or of a key you set as target.api_key`,
    });
    return;
  }
  if (tenant !== undefined) {
    const known = stack.tenants.find((t) => t.name === tenant);
    if (!known) {
      const hint = nearest(tenant, names);
      r.report('FG_SCENARIO_STACK_TENANT', tenantNode, 'stack.tenant', `stack "${stack.name}" has no tenant "${tenant}"${hint ? ` (did you mean "${hint}"?)` : ''}`, {
        value: tenant,
        allowed: withKeysText ? `a tenant of the stack with a development key: ${withKeysText}` : `a tenant of the stack (${names.join(', ')}); none of them holds a development key yet`,
      });
    } else if (!withKeys.has(tenant)) {
      r.report(
        'FG_SCENARIO_STACK_TENANT',
        tenantNode,
        'stack.tenant',
        `tenant "${tenant}" of stack "${stack.name}" has no development key: its api_key_hashes hold only hashes of keys the harness cannot know (it knows ${devKeyList})`,
        {
          value: tenant,
          allowed: `${withKeysText ? `a tenant with a development key (${withKeysText}); or ` : ''}remove stack.tenant and set target.api_key to a key of "${tenant}"; or add the hash of a development key to its api_key_hashes`,
        },
      );
    }
    return;
  }
  if (apiKey !== undefined) {
    // The run sends this key: it must be one of a tenant's (compared by hash, as the gateway does).
    const hash = createHash('sha256').update(apiKey.trim()).digest('hex');
    if (!stack.tenants.some((t) => t.keyHashes.some((h) => h.replace(/^sha256:/i, '').toLowerCase() === hash))) {
      r.report('FG_SCENARIO_STACK_TENANT', target!.get('api_key'), target!.pathOf('api_key'), `target.api_key is no key of a tenant of stack "${stack.name}" (its SHA-256 is in no tenant's api_key_hashes): the gateway would refuse every request`, {
        allowed: `a key whose hash a tenant of the stack holds (${names.join(', ')}), or no api_key${withKeysText ? ` (a development key of ${withKeysText} is then used)` : ''}`,
      });
    }
    return;
  }
  if (withKeys.size === 0) {
    r.report(
      'FG_SCENARIO_STACK_TENANT',
      fileNode,
      filePath,
      `no tenant of stack "${stack.name}" (${names.join(', ')}) holds a development key (${devKeyList}): its api_key_hashes hold only hashes of keys the harness cannot know, so it would have no key to send`,
      {
        value: stack.file,
        allowed: 'set target.api_key to a key of one of its tenants, or add the hash of a development key to a tenant\'s api_key_hashes',
      },
    );
  }
}
