// The Responses API's request (POST /v1/responses) and the chat completion it is computed as:
// input items → messages (function_call items → an assistant message's tool_calls,
// function_call_output items → tool messages), instructions → a system message first,
// text.format → response_format, flat function tools → chat tools. Refused with a 400 naming
// the field: what needs stored state (previous_response_id, conversation, background, stored
// prompts) and tools other than functions (no built-in tools run here).
import { z } from 'zod';
import { OpenAIError } from './openai_error.ts';
import { FunctionName, type ChatCompletionRequest, type ChatRequestMessage } from './openai_requests.ts';

const STATELESS = (param: string) =>
  `this server is stateless: ${param} is not supported; send the whole conversation in input`;

const ContentPart = z.object({ type: z.enum(['input_text', 'output_text']), text: z.string() });
// id and status are present when a client sends back a previous response's output items.
const InputMessage = z.object({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'system', 'developer', 'assistant']),
  content: z.union([z.string(), z.array(ContentPart)]),
  id: z.string().optional(),
  status: z.string().optional(),
});
const FunctionCallItem = z.object({
  type: z.literal('function_call'),
  call_id: z.string().min(1),
  name: z.string().min(1),
  arguments: z.string(),
  id: z.string().optional(),
  status: z.string().optional(),
});
const FunctionCallOutputItem = z.object({
  type: z.literal('function_call_output'),
  call_id: z.string().min(1),
  output: z.union([z.string(), z.array(ContentPart)]),
  id: z.string().optional(),
  status: z.string().optional(),
});
type InputItem = z.infer<typeof InputMessage> | z.infer<typeof FunctionCallItem> | z.infer<typeof FunctionCallOutputItem>;

const FunctionTool = z.object({
  type: z.literal('function', { error: "only function tools are supported: this server runs no built-in tools (type must be 'function')" }),
  name: FunctionName,
  description: z.string().nullish(),
  parameters: z.record(z.string(), z.unknown(), { error: 'parameters must be a JSON Schema object' }).nullish(),
  strict: z.boolean().nullish(),
});

const ToolChoice = z.union([
  z.enum(['none', 'auto', 'required'], { error: "tool_choice must be 'none', 'auto', 'required' or {type: 'function', name}" }),
  z.object({ type: z.literal('function'), name: FunctionName }),
]);

// Something only a server with stored state could honour: refused with the stateless message.
const stateful = (name: string) =>
  z.unknown().refine((v) => v === undefined || v === null, STATELESS(name)).optional();

const TextFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    name: z.string().min(1, 'text.format.name is required'),
    schema: z.record(z.string(), z.unknown()),
    strict: z.boolean().nullish(),
    description: z.string().optional(),
  }),
]);

export const ResponsesRequest = z.strictObject({
  model: z.string({ error: 'model is required' }).min(1, 'model is required'),
  input: z.union([z.string(), z.array(z.union([InputMessage, FunctionCallItem, FunctionCallOutputItem])).min(1, 'input must contain at least one item')]),
  instructions: z.string().nullish(),
  max_output_tokens: z.number().int().positive().nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  stream: z.boolean().nullish(),
  text: z.object({ format: TextFormat.optional(), verbosity: z.string().nullish() }).nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().max(256).nullish(),
  store: z.boolean().nullish(), // accepted either way: nothing is stored
  parallel_tool_calls: z.boolean().nullish(),
  tools: z.array(FunctionTool).max(128, 'tools may hold at most 128 functions').nullish(),
  tool_choice: ToolChoice.nullish(),
  previous_response_id: stateful('previous_response_id'),
  conversation: stateful('conversation'),
  prompt: stateful('prompt'),
  background: z
    .boolean()
    .refine((b) => !b, 'this server is stateless: background responses are not supported; send the request without background')
    .nullish(),
});
export type ResponsesRequest = z.infer<typeof ResponsesRequest>;

const partsText = (content: string | { text: string }[]) => (typeof content === 'string' ? content : content.map((p) => p.text).join(''));

// Items in order; consecutive function calls (and the text before them) are one assistant turn.
function messagesOf(items: InputItem[]): ChatRequestMessage[] {
  const messages: ChatRequestMessage[] = [];
  for (const item of items) {
    if (item.type === 'function_call') {
      const last = messages.at(-1);
      const call = { id: item.call_id, type: 'function' as const, function: { name: item.name, arguments: item.arguments } };
      if (last?.role === 'assistant') last.tool_calls = [...(last.tool_calls ?? []), call];
      else messages.push({ role: 'assistant', content: null, tool_calls: [call] });
    } else if (item.type === 'function_call_output') messages.push({ role: 'tool', tool_call_id: item.call_id, content: partsText(item.output) });
    else messages.push({ role: item.role, content: partsText(item.content) });
  }
  return messages;
}

// The chat completion this response is computed as.
export function chatRequestOf(req: ResponsesRequest): ChatCompletionRequest {
  const messages = messagesOf(typeof req.input === 'string' ? [{ role: 'user', content: req.input }] : req.input);
  if (req.instructions) {
    // One system prompt: instructions go first, before any system message of the input.
    const first = messages[0];
    if (first && (first.role === 'system' || first.role === 'developer'))
      messages[0] = { role: 'system', content: `${req.instructions}\n\n${partsText(first.content)}` };
    else messages.unshift({ role: 'system', content: req.instructions });
  }
  const format = req.text?.format;
  const response_format =
    format?.type === 'json_schema'
      ? { type: 'json_schema', json_schema: { name: format.name, schema: format.schema, strict: format.strict ?? null, ...(format.description ? { description: format.description } : {}) } }
      : (format ?? null);
  const choice = req.tool_choice;
  return {
    model: req.model,
    messages,
    max_completion_tokens: req.max_output_tokens ?? null,
    temperature: req.temperature ?? null,
    top_p: req.top_p ?? null,
    stream: req.stream ?? false,
    user: req.user ?? null,
    response_format,
    tools: req.tools?.map(({ type, ...fn }) => ({ type, function: fn })) ?? null,
    tool_choice: typeof choice === 'object' && choice !== null ? { type: 'function', function: { name: choice.name } } : (choice ?? null),
    parallel_tool_calls: req.parallel_tool_calls ?? null,
  };
}

// Chat names in errors → the Responses API's names.
const PARAMS: [RegExp, string][] = [
  [/^response_format\.json_schema\b/, 'text.format'],
  [/^response_format\b/, 'text.format'],
  [/^messages\b/, 'input'],
  [/^max_completion_tokens\b|^max_tokens\b/, 'max_output_tokens'],
  [/^(tools\[\d+\])\.function\b/, '$1'],
];

function renamed(name: string): string {
  for (const [re, to] of PARAMS) if (re.test(name)) return name.replace(re, to);
  return name;
}

export async function asResponsesError<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof OpenAIError) || err.param === null) throw err;
    const param = renamed(err.param);
    const message = err.message.replaceAll(err.param, param).replace(/\bresponse_format\b/g, 'text.format');
    throw new OpenAIError(err.status, message, err.type, param, err.code, err.headers);
  }
}
