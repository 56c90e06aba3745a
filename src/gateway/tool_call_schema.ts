// The JSON Schema of a model's tool-call list, which constrained decoding enforces after
// [TOOL_CALLS]: [{"name": <one of the tools>, "arguments": <that tool's parameters>}, …].
// Each tool's parameters are checked on their own first, so a keyword the grammar cannot
// enforce is a 400 naming tools[i].function.parameters…; their definitions move into the
// list's $defs under the tool's index, and their $refs follow.
import { jsonSchemaGrammar } from '../node/grammar/json_schema_grammar.ts';
import { ResponseFormatError } from '../node/grammar/response_format_error.ts';
import { normalizeJsonSchema, type Schema } from '../node/grammar/schema_support.ts';
import { invalidRequest } from './openai_error.ts';
import type { FunctionTool } from './openai_requests.ts';

const defName = (tool: number, name?: string) => (name === undefined ? `tool${tool}` : `tool${tool}_${name}`);

// '#' → the tool's own parameters; '#/$defs/X' → the tool's X.
function rebased(node: unknown, tool: number): unknown {
  if (Array.isArray(node)) return node.map((n) => rebased(n, tool));
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === '$ref' && typeof value === 'string') {
      const local = /^#\/\$defs\/(.+)$/.exec(value);
      out.$ref = `#/$defs/${value === '#' ? defName(tool) : defName(tool, local?.[1])}`;
    } else out[key] = key === 'const' || key === 'enum' ? value : rebased(value, tool);
  }
  return out;
}

function checkedParameters(tool: FunctionTool, index: number, strict: boolean): Schema {
  const path = `tools[${index}].function.parameters`;
  try {
    const schema = normalizeJsonSchema(tool.function.parameters ?? { type: 'object' }, { path });
    jsonSchemaGrammar(schema, { strict, maxWhitespace: 16 });
    return schema;
  } catch (err) {
    if (err instanceof ResponseFormatError) throw invalidRequest(err.message, err.param);
    throw err;
  }
}

export type ToolCallSchema = { schema: Schema; strict: boolean };

/** `only`: the one tool a named tool_choice forces; `parallel`: more than one call allowed. */
export function toolCallSchema(tools: readonly FunctionTool[], options: { only: string | null; parallel: boolean }): ToolCallSchema {
  // Strict (additionalProperties left out = false) only when every tool asks for it.
  const strict = tools.every((t) => t.function.strict === true);
  const $defs: Record<string, unknown> = {};
  const calls: Schema[] = [];
  tools.forEach((tool, i) => {
    const { $defs: own, ...parameters } = checkedParameters(tool, i, strict);
    for (const [name, def] of Object.entries((own ?? {}) as Record<string, unknown>)) $defs[defName(i, name)] = rebased(def, i);
    $defs[defName(i)] = rebased(parameters, i);
    if (options.only !== null && tool.function.name !== options.only) return;
    calls.push({
      type: 'object',
      properties: { name: { const: tool.function.name }, arguments: { $ref: `#/$defs/${defName(i)}` } },
      required: ['name', 'arguments'],
      additionalProperties: false,
    });
  });
  const items = calls.length === 1 ? calls[0]! : { anyOf: calls };
  return { schema: { $defs, type: 'array', items, minItems: 1, ...(options.parallel ? {} : { maxItems: 1 }) }, strict };
}
