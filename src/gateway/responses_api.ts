// The Responses API (POST /v1/responses) as far as a stateless server can: the request is
// turned into the equivalent chat completion (input items → messages, instructions → a system
// message first, text.format → response_format) and runs through the chat route's machinery;
// this module shapes the answer as an OpenAI Response object, or as its named stream events.
// Refused with a 400 naming the field: what needs stored state (previous_response_id,
// conversation, background, stored prompts) and tools (tool calling is not built yet).
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { DoneEvent, TokenEvent } from '../protocol/internal_api.ts';
import { OpenAIError } from './openai_error.ts';
import type { ChatCompletionRequest } from './openai_requests.ts';
import type { ChoiceResult, FormatCommon, OpenAIUsage, ResponseFormat } from './response_format.ts';

const STATELESS = (param: string) =>
  `this server is stateless: ${param} is not supported; send the whole conversation in input`;

const ContentPart = z.object({ type: z.enum(['input_text', 'output_text']), text: z.string() });
const InputMessage = z.object({
  type: z.literal('message').optional(),
  role: z.enum(['user', 'system', 'developer', 'assistant']),
  content: z.union([z.string(), z.array(ContentPart)]),
  // Present when a client sends back a previous response's output items; not used.
  id: z.string().optional(),
  status: z.string().optional(),
});

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
  input: z.union([z.string(), z.array(InputMessage).min(1, 'input must contain at least one item')]),
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
  tools: z
    .array(z.unknown())
    .refine((t) => t.length === 0, 'tools are not supported yet on this server (tool calling is not built)')
    .nullish(),
  tool_choice: z
    .unknown()
    .refine((v) => v === undefined || v === null || v === 'none' || v === 'auto', 'tool_choice is not supported yet (tool calling is not built)')
    .optional(),
  previous_response_id: stateful('previous_response_id'),
  conversation: stateful('conversation'),
  prompt: stateful('prompt'),
  background: z
    .boolean()
    .refine((b) => !b, 'this server is stateless: background responses are not supported; send the request without background')
    .nullish(),
});
export type ResponsesRequest = z.infer<typeof ResponsesRequest>;

type ChatMessage = ChatCompletionRequest['messages'][number];

const partsText = (content: z.infer<typeof InputMessage>['content']) =>
  typeof content === 'string' ? content : content.map((p) => p.text).join('');

// The chat completion this response is computed as.
export function chatRequestOf(req: ResponsesRequest): ChatCompletionRequest {
  const items = typeof req.input === 'string' ? [{ role: 'user' as const, content: req.input }] : req.input;
  const messages: ChatMessage[] = items.map((m) => ({ role: m.role, content: partsText(m.content) }));
  if (req.instructions) {
    // One system prompt: instructions go first, before any system message of the input.
    const first = messages[0];
    if (first && (first.role === 'system' || first.role === 'developer'))
      messages[0] = { role: 'system', content: `${req.instructions}\n\n${first.content as string}` };
    else messages.unshift({ role: 'system', content: req.instructions });
  }
  const format = req.text?.format;
  const response_format =
    format?.type === 'json_schema'
      ? { type: 'json_schema', json_schema: { name: format.name, schema: format.schema, strict: format.strict ?? null, ...(format.description ? { description: format.description } : {}) } }
      : (format ?? null);
  return {
    model: req.model,
    messages,
    max_completion_tokens: req.max_output_tokens ?? null,
    temperature: req.temperature ?? null,
    top_p: req.top_p ?? null,
    stream: req.stream ?? false,
    user: req.user ?? null,
    response_format,
  };
}

// Chat names in errors → the Responses API's names.
const PARAMS: [RegExp, string][] = [
  [/^response_format\.json_schema\b/, 'text.format'],
  [/^response_format\b/, 'text.format'],
  [/^messages\b/, 'input'],
  [/^max_completion_tokens\b|^max_tokens\b/, 'max_output_tokens'],
];

function renamed(name: string): string {
  for (const [re, to] of PARAMS) if (re.test(name)) return name.replace(re, to);
  return name;
}

export function asResponsesError<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof OpenAIError) || err.param === null) throw err;
    const param = renamed(err.param);
    const message = err.message.replaceAll(err.param, param).replace(/\bresponse_format\b/g, 'text.format');
    throw new OpenAIError(err.status, message, err.type, param, err.code, err.headers);
  }
}

type Status = 'in_progress' | 'completed' | 'incomplete';

// The Response object and its stream events. One output message (n is always 1 here).
export function responsesFormat(c: FormatCommon, req: ResponsesRequest): ResponseFormat {
  const messageId = `msg_${randomBytes(12).toString('hex')}`;
  let sequence = 0;
  let text = '';
  let status: Status = 'in_progress';
  const event = (type: string, fields: object) => ({ type, sequence_number: sequence++, ...fields });
  const format = req.text?.format ?? { type: 'text' };

  const content = (t: string) => ({ type: 'output_text', text: t, annotations: [], logprobs: [] });
  const item = (itemStatus: Status, t: string | null) => ({
    id: messageId,
    type: 'message',
    status: itemStatus,
    role: 'assistant',
    content: t === null ? [] : [content(t)],
  });
  const responseUsage = (u: OpenAIUsage) => ({
    input_tokens: u.prompt_tokens,
    input_tokens_details: { cached_tokens: u.prompt_tokens_details.cached_tokens },
    output_tokens: u.completion_tokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.total_tokens,
  });
  const response = (s: Status, output: object[], usage: OpenAIUsage | null) => ({
    id: c.id,
    object: 'response',
    created_at: c.created,
    status: s,
    background: false,
    error: null,
    incomplete_details: s === 'incomplete' ? { reason: 'max_output_tokens' } : null,
    instructions: req.instructions ?? null,
    max_output_tokens: req.max_output_tokens ?? null,
    model: c.model,
    output,
    // The SDKs compute this convenience field themselves; plain HTTP clients get it too.
    output_text: output.length > 0 ? text : '',
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: req.store ?? true, // echoed as sent; nothing is stored
    temperature: req.temperature ?? 1,
    text: { format },
    tool_choice: req.tool_choice ?? 'auto',
    tools: [],
    top_p: req.top_p ?? 1,
    truncation: 'disabled',
    usage: usage ? responseUsage(usage) : null,
    user: req.user ?? null,
    metadata: req.metadata ?? {},
  });
  const statusOf = (finishReason: string): Status => (finishReason === 'length' ? 'incomplete' : 'completed');
  const where = { item_id: messageId, output_index: 0, content_index: 0 };

  return {
    start: () => [
      event('response.created', { response: response('in_progress', [], null) }),
      event('response.in_progress', { response: response('in_progress', [], null) }),
      event('response.output_item.added', { output_index: 0, item: item('in_progress', null) }),
      event('response.content_part.added', { ...where, part: content('') }),
    ],
    token: (_index: number, t: TokenEvent) => {
      if (t.text === '') return null;
      text += t.text;
      return event('response.output_text.delta', { ...where, delta: t.text, logprobs: [] });
    },
    finish: (_index: number, done: DoneEvent) => {
      const tail = done.tail ? [event('response.output_text.delta', { ...where, delta: done.tail, logprobs: [] })] : [];
      text += done.tail;
      status = statusOf(done.finish_reason);
      return [
        ...tail,
        event('response.output_text.done', { ...where, text, logprobs: [] }),
        event('response.content_part.done', { ...where, part: content(text) }),
        event('response.output_item.done', { output_index: 0, item: item(status, text) }),
      ];
    },
    usage: () => ({}), // unused: the stream ends with response.completed (events.end)
    body: (choices: ChoiceResult[], usage: OpenAIUsage) => {
      const choice = choices[0]!;
      text = choice.text;
      const s = statusOf(choice.finishReason);
      return response(s, [item(s, text)], usage);
    },
    events: {
      end: (usage) => [event(status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response: response(status, [item(status, text)], usage) })],
      error: (err) => event('error', { code: err.code, message: err.message, param: err.param }),
    },
  };
}
