// The Responses API's answer (POST /v1/responses; the request side is responses_request.ts):
// the chat machinery's output shaped as an OpenAI Response object, or as its named stream
// events. Output items: one assistant message for the text, then a function_call item per tool
// call (tool_call_reader.ts). Without tools the message opens at once, as before any token; with
// tools it opens with the first text, so a response that only calls tools has no empty message.
import type { DoneEvent, TokenEvent } from '../protocol/internal_api.ts';
import type { ChoiceResult, FormatCommon, OpenAIUsage, ResponseFormat } from './response_format.ts';
import { readOutput, ToolCallReader, type ReadOut, type ToolCallOut } from './tool_call_reader.ts';
import type { ResponsesRequest } from './responses_request.ts';
import { randomHex } from '../util/random_hex.ts';

export { asResponsesError, chatRequestOf, ResponsesRequest } from './responses_request.ts';

type Status = 'in_progress' | 'completed' | 'incomplete';
type Event = Record<string, unknown>;

const newId = (prefix: string) => `${prefix}_${randomHex(12)}`;
const content = (t: string) => ({ type: 'output_text', text: t, annotations: [], logprobs: [] });
const functionCallItem = (call: ToolCallOut & { itemId: string }, args: string) => ({
  id: call.itemId,
  type: 'function_call',
  status: 'completed',
  call_id: call.id,
  name: call.function.name,
  arguments: args,
});

const responseUsage = (u: OpenAIUsage) => ({
  input_tokens: u.prompt_tokens,
  input_tokens_details: { cached_tokens: u.prompt_tokens_details.cached_tokens },
  output_tokens: u.completion_tokens,
  output_tokens_details: { reasoning_tokens: 0 },
  total_tokens: u.total_tokens,
});

// The Response object and its stream events. n is always 1 here.
export function responsesFormat(c: FormatCommon, req: ResponsesRequest): ResponseFormat {
  const messageId = newId('msg');
  const reader = new ToolCallReader(c.toolCalls);
  let sequence = 0;
  let text = '';
  let status: Status = 'in_progress';
  // The message's place among the output items (null until it opens) and whether it closed.
  let messageIndex: number | null = null;
  let messageClosed = false;
  const calls: (ToolCallOut & { itemId: string })[] = [];
  const event = (type: string, fields: object): Event => ({ type, sequence_number: sequence++, ...fields });
  const format = req.text?.format ?? { type: 'text' };

  const message = (itemStatus: Status, t: string | null) => ({ id: messageId, type: 'message', status: itemStatus, role: 'assistant', content: t === null ? [] : [content(t)] });
  const output = (s: Status) => {
    const items: object[] = calls.map((call) => functionCallItem(call, call.function.arguments));
    if (messageIndex !== null) items.splice(messageIndex, 0, message(s, text));
    return items;
  };
  const response = (s: Status, items: object[], usage: OpenAIUsage | null) => ({
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
    output: items,
    // The SDKs compute this convenience field themselves; plain HTTP clients get it too.
    output_text: text,
    parallel_tool_calls: req.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: req.store ?? true, // echoed as sent; nothing is stored
    temperature: req.temperature ?? 1,
    text: { format },
    tool_choice: req.tool_choice ?? 'auto',
    tools: req.tools ?? [],
    top_p: req.top_p ?? 1,
    truncation: 'disabled',
    usage: usage ? responseUsage(usage) : null,
    user: req.user ?? null,
    metadata: req.metadata ?? {},
  });
  const statusOf = (finishReason: string): Status => (finishReason === 'length' ? 'incomplete' : 'completed');
  const where = () => ({ item_id: messageId, output_index: messageIndex, content_index: 0 });

  const openMessage = (): Event[] => {
    if (messageIndex !== null) return [];
    messageIndex = calls.length;
    return [event('response.output_item.added', { output_index: messageIndex, item: message('in_progress', null) }), event('response.content_part.added', { ...where(), part: content('') })];
  };
  const closeMessage = (s: Status): Event[] => {
    if (messageIndex === null || messageClosed) return [];
    messageClosed = true;
    return [
      event('response.output_text.done', { ...where(), text, logprobs: [] }),
      event('response.content_part.done', { ...where(), part: content(text) }),
      event('response.output_item.done', { output_index: messageIndex, item: message(s, text) }),
    ];
  };
  const callEvents = (call: ToolCallOut): Event[] => {
    const item = { ...call, itemId: newId('fc') };
    calls.push(item);
    const index = calls.length - 1 + (messageIndex === null ? 0 : 1);
    const at = { item_id: item.itemId, output_index: index };
    return [
      event('response.output_item.added', { output_index: index, item: { ...functionCallItem(item, ''), status: 'in_progress' } }),
      event('response.function_call_arguments.delta', { ...at, delta: call.function.arguments }),
      event('response.function_call_arguments.done', { ...at, arguments: call.function.arguments }),
      event('response.output_item.done', { output_index: index, item: functionCallItem(item, call.function.arguments) }),
    ];
  };
  // Text goes into the message (opened if need be); a call closes the message first.
  const eventsOf = (read: ReadOut, s: Status): Event[] => {
    const out: Event[] = [];
    if (read.content) {
      out.push(...openMessage());
      text += read.content;
      out.push(event('response.output_text.delta', { ...where(), delta: read.content, logprobs: [] }));
    }
    for (const call of read.calls) out.push(...closeMessage(s), ...callEvents(call));
    return out;
  };

  return {
    start: () => [
      event('response.created', { response: response('in_progress', [], null) }),
      event('response.in_progress', { response: response('in_progress', [], null) }),
      ...(c.toolCalls === null ? openMessage() : []),
    ],
    token: (_index: number, t: TokenEvent) => eventsOf(reader.push(t.token, t.text), 'completed'),
    finish: (_index: number, done: DoneEvent) => {
      status = statusOf(done.finish_reason);
      return [...eventsOf(reader.finish(done.tail), status), ...closeMessage(status)];
    },
    usage: () => ({}), // unused: the stream ends with response.completed (events.end)
    body: (choices: ChoiceResult[], usage: OpenAIUsage) => {
      const choice = choices[0]!;
      eventsOf(readOutput(reader, choice.tokens, choice.text), 'completed');
      if (messageIndex === null && calls.length === 0) messageIndex = 0; // an empty answer is still a message
      const s = statusOf(choice.finishReason);
      return response(s, output(s), usage);
    },
    events: {
      end: (usage) => [event(status === 'incomplete' ? 'response.incomplete' : 'response.completed', { response: response(status, output(status), usage) })],
      error: (err) => event('error', { code: err.code, message: err.message, param: err.param }),
    },
  };
}
