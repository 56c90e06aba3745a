// Tool calling the way Mistral models do it. The tools go into the prompt (the v3 template's
// [AVAILABLE_TOOLS]); the model answers with [TOOL_CALLS] and a JSON list of calls, which
// tool_call_reader.ts turns into OpenAI tool_calls. tool_choice:
//   none      tools stay out of the prompt and [TOOL_CALLS] is never sampled;
//   auto      the model chooses; once it writes [TOOL_CALLS], the grammar of the call list
//             takes over, so a call always parses and fits the tool's parameters;
//   required  [TOOL_CALLS] ends the prompt and the grammar holds from the first token
//   / named   (named: exactly one call, of that tool, as OpenAI's named tool_choice means,
//             whatever parallel_tool_calls says). Mistral's 'any' is 'required'.
// A model whose tokenizer has no tool tokens gets a 400 naming the model.
import type { ChatMessage, ChatTool, Tokenizer } from '../tokenizer/tokenizer.ts';
import { mentionsTools } from './chat_history.ts';
import { invalidRequest } from './openai_error.ts';
import type { FunctionTool, ToolChoice } from './openai_requests.ts';
import { toolCallSchema } from './tool_call_schema.ts';

/** How to read a choice's output: calls follow token callsId, or (forced) start at once. */
export type ToolCallMode = { callsId: number; forced: boolean };

export type ToolPlan = {
  tools: ChatTool[]; // rendered into the prompt
  mode: ToolCallMode | null; // null: the output is text
  promptSuffix: number[]; // [TOOL_CALLS] when a call is forced
  responseFormat: unknown; // the call list's grammar (json_schema), or null
  grammarTrigger: number | null; // the grammar starts after this token (auto)
  banned: number[]; // never sampled (none: [TOOL_CALLS])
};

const NO_TOOLS: ToolPlan = { tools: [], mode: null, promptSuffix: [], responseFormat: null, grammarTrigger: null, banned: [] };

type ToolFields = { tools?: FunctionTool[] | null; tool_choice?: ToolChoice | null; parallel_tool_calls?: boolean | null };

function unsupported(model: string, param: string): never {
  throw invalidRequest(`The model '${model}' does not support tool calling: its tokenizer has no [TOOL_CALLS] and [AVAILABLE_TOOLS] tokens`, param);
}

export function planTools(req: ToolFields, history: readonly ChatMessage[], tokenizer: Tokenizer, model: string): ToolPlan {
  const tools = req.tools ?? [];
  const choice = req.tool_choice ?? (tools.length > 0 ? 'auto' : 'none');
  const callsId = tokenizer.toolCallsId;
  if (callsId === null) {
    if (tools.length > 0) unsupported(model, 'tools');
    if (mentionsTools(history)) unsupported(model, 'messages');
  }
  if (tools.length === 0) {
    if (choice !== 'none' && choice !== 'auto') throw invalidRequest(`tool_choice ${JSON.stringify(choice)} needs tools: the request has none`, 'tool_choice');
    return NO_TOOLS;
  }
  const names = new Set<string>();
  tools.forEach((t, i) => {
    if (names.has(t.function.name)) throw invalidRequest(`Invalid value for 'tools[${i}].function.name': two tools are named '${t.function.name}'`, `tools[${i}].function.name`);
    names.add(t.function.name);
  });
  if (choice === 'none') return { ...NO_TOOLS, banned: [callsId!] };
  const only = typeof choice === 'object' ? choice.function.name : null;
  if (only !== null && !names.has(only)) throw invalidRequest(`tool_choice names the function '${only}', which is not in tools`, 'tool_choice');
  const { schema, strict } = toolCallSchema(tools, { only, parallel: only === null && (req.parallel_tool_calls ?? true) });
  const forced = choice !== 'auto';
  return {
    tools: tools.map((t) => ({
      type: 'function',
      function: {
        name: t.function.name,
        ...(t.function.description ? { description: t.function.description } : {}),
        parameters: t.function.parameters ?? { type: 'object', properties: {} },
      },
    })),
    mode: { callsId: callsId!, forced },
    promptSuffix: forced ? [callsId!] : [],
    responseFormat: { type: 'json_schema', json_schema: { name: 'tool_calls', schema, strict } },
    grammarTrigger: forced ? null : callsId,
    banned: [],
  };
}
