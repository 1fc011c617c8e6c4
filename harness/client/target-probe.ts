/**
 * Pre-flight check of a target before any load is sent: is it reachable, does it accept our
 * key, does it list the scenario's model (GET /v1/models)? A target that cannot be reached or
 * refuses the key stops the run with exit code 3 and nothing sent; a model missing from the
 * list is only a warning (gateways often serve aliases they do not list).
 */
import { request, type Dispatcher } from 'undici';
import { RunError } from '../errors.ts';
import type { TargetConfig } from '../scenario/scenario-types.ts';
import { errorCodeFor, errorMessageFor } from './request-error-codes.ts';

export interface TargetProbe {
  /** Model ids the target lists, when /models answered with a list. */
  models: string[] | undefined;
  /** False when /models answered and the scenario's model is not in it. */
  modelListed: boolean | undefined;
  warnings: string[];
}

export function authHeaders(target: TargetConfig): Record<string, string> {
  const h: Record<string, string> = { ...target.headers };
  if (target.apiKey) h.authorization = `Bearer ${target.apiKey}`;
  return h;
}

export async function probeTarget(target: TargetConfig, dispatcher: Dispatcher): Promise<TargetProbe> {
  const url = `${target.url!.replace(/\/$/, '')}/models`;
  let status: number;
  let text: string;
  try {
    const res = await request(url, {
      method: 'GET',
      headers: authHeaders(target),
      dispatcher,
      headersTimeout: target.timeouts.ttftMs,
      bodyTimeout: target.timeouts.ttftMs,
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch (e) {
    throw new RunError('FG_TARGET_UNREACHABLE', `cannot reach the target at ${url}: ${errorCodeFor(e)} (${errorMessageFor(e)}); nothing was sent`, { cause: e });
  }
  if (status === 401 || status === 403) {
    throw new RunError('FG_TARGET_UNAUTHORIZED', `the target refused the API key (HTTP ${status} from ${url}); set target.api_key (e.g. api_key: \${FLOODGATE_API_KEY}) or --api-key; nothing was sent`);
  }
  const warnings: string[] = [];
  if (status !== 200) {
    warnings.push(`GET ${url} answered HTTP ${status}; the model list could not be checked`);
    return { models: undefined, modelListed: undefined, warnings };
  }
  let models: string[] | undefined;
  try {
    const json = JSON.parse(text) as { data?: Array<{ id?: unknown }> };
    models = Array.isArray(json.data) ? json.data.map((m) => String(m.id)) : undefined;
  } catch {
    warnings.push(`GET ${url} did not return JSON; the model list could not be checked`);
  }
  const modelListed = models === undefined ? undefined : models.includes(target.model);
  if (modelListed === false) warnings.push(`model "${target.model}" is not in the target's model list (${models!.slice(0, 8).join(', ')}${models!.length > 8 ? ', ...' : ''})`);
  return { models, modelListed, warnings };
}
