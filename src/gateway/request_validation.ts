// Request bodies in, validated data or an OpenAI 400 out, with a message that names the
// parameter and the real reason. Unknown fields: by default stripped and reported through
// `onIgnored` (clients such as the AI SDK send fields we do not implement, e.g. `verbosity`);
// in strict mode (`sirocco gateway --strict-params`) the first one is a 400 naming it, as
// OpenAI answers. Wrong types or values of known fields are a 400 in both modes.
import type { z } from 'zod';
import { invalidRequest } from './openai_error.ts';
import { paramName } from './openai_requests.ts';

type Issue = z.core.$ZodIssue;

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw invalidRequest('We could not parse the JSON body of your request: send valid JSON with content-type application/json.');
  }
}

// zod reports a value that fits no member of a union as just "Invalid input". Say why: when
// the value has the type of one member but breaks its rules (five stop strings), that
// member's issues; when it has none of the types, which types were expected. Paths become
// absolute, so unknown keys inside a union member are found like any other.
function flatten(issue: Issue, prefix: readonly PropertyKey[] = []): Issue[] {
  const path = [...prefix, ...issue.path];
  // A record key that breaks its rule: zod says "Invalid key in record"; the rule says why.
  if (issue.code === 'invalid_key' && issue.issues[0]) return [{ ...issue, path, message: issue.issues[0].message }];
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [{ ...issue, path } as Issue];
  const wrongType = (errs: Issue[]) => errs.every((e) => e.code === 'invalid_type' && e.path.length === 0);
  const fitting = issue.errors.find((errs) => errs.length > 0 && !wrongType(errs));
  if (fitting) return fitting.flatMap((e) => flatten(e, path));
  const expected = [...new Set(issue.errors.flatMap((errs) => errs.map((e) => (e.code === 'invalid_type' ? e.expected : null))))].filter(Boolean);
  const received = /received (\w+)/.exec(issue.errors[0]?.[0]?.message ?? '')?.[1];
  const message = expected.length > 0 ? `expected ${expected.join(' or ')}${received ? `, received ${received}` : ''}` : issue.message;
  return [{ ...issue, path, message }];
}

function refuse(issue: Issue): never {
  const param = paramName(issue.path);
  throw invalidRequest(param ? `Invalid value for '${param}': ${issue.message}` : issue.message, param);
}

// `messages[0].content[1].cache_control` → `messages[].content[].cache_control`: one name per
// field whatever its position, so it is logged once, not once per index.
export const fieldName = (path: readonly PropertyKey[]) => (paramName(path) ?? '').replace(/\[\d+\]/g, '[]');

// Removes the key at `path` from the (freshly parsed, caller-owned) JSON body.
function strip(body: unknown, path: readonly PropertyKey[], key: string): void {
  let at: unknown = body;
  for (const p of path) at = (at as Record<PropertyKey, unknown>)?.[p];
  if (at !== null && typeof at === 'object') delete (at as Record<string, unknown>)[key];
}

export type ValidateOptions = { strict: boolean; onIgnored: (fields: string[]) => void };

export function validate<T>(schema: z.ZodType<T>, body: unknown, options: ValidateOptions): T {
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.flatMap((i) => flatten(i));
  const unknown = issues.filter((i): i is z.core.$ZodIssueUnrecognizedKeys => i.code === 'unrecognized_keys');
  // A wrong known field is reported before an unknown one, whatever the mode.
  const other = issues.find((i) => i.code !== 'unrecognized_keys');
  if (other) refuse(other);
  if (options.strict) {
    const first = unknown[0]!;
    const key = first.keys[0]!;
    throw invalidRequest(`Unrecognized request argument supplied: ${key}`, paramName([...first.path, key]));
  }
  const ignored: string[] = [];
  for (const issue of unknown)
    for (const key of issue.keys) {
      strip(body, issue.path, key);
      ignored.push(fieldName([...issue.path, key]));
    }
  options.onIgnored([...new Set(ignored)]);
  const again = schema.safeParse(body);
  if (!again.success) refuse(flatten(again.error.issues[0]!)[0]!);
  return again.data;
}
