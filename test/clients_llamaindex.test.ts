// LlamaIndex TS (`@llamaindex/openai`, the provider package alone, not the `llamaindex`
// meta-package) against a running gateway: its OpenAI LLM class with a custom baseURL and a
// model name LlamaIndex does not know (it then assumes a small context window and sends the
// request as is): chat, streamed chat (with usage when asked through additionalChatOptions),
// chat with a zod responseFormat (LlamaIndex's own zod-to-JSON-schema, sent as a strict
// json_schema), the OpenAIResponses class (POST /v1/responses, which sends
// previous_response_id: null and store: false on every call), and tool calling through both
// classes (FunctionTools with zod parameters, tool_choice through additionalChatOptions):
// message.options.toolCall with input that validates, a named choice, a streamed call, and a
// round trip with LlamaIndex's toolResult messages (tool messages / function_call_output items).
import { OpenAI, OpenAIResponses } from '@llamaindex/openai';
import type { ChatMessage, ChatResponse, PartialToolCall, ToolCall, ToolCallLLMMessageOptions } from '@llamaindex/core/llms';
import { tool } from '@llamaindex/core/tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITY_ZOD } from './helpers/city_zod.ts';
import { recordingFetch, type RecordingFetch } from './helpers/recording_fetch.ts';
import { startStack, type Stack } from './helpers/stack.ts';
import { MISTRAL_CALL_ID } from './helpers/weather_tools.ts';
import { expectValidInput, TIME_RESULT, TIME_ZOD, WEATHER_RESULT, WEATHER_ZOD } from './helpers/weather_zod.ts';

let stack: Stack;
let apiKey: string;
let wire: RecordingFetch;
beforeAll(async () => {
  stack = await startStack();
  apiKey = await stack.createKey('llamaindex');
  wire = recordingFetch();
}, 120_000);
afterAll(async () => stack?.stop());

function llm(fields: { maxTokens?: number; temperature?: number } = {}): OpenAI {
  return new OpenAI({
    model: stack.modelId,
    apiKey,
    baseURL: `${stack.gateway.url}/v1`,
    additionalSessionOptions: { fetch: wire.fetch },
    maxRetries: 0,
    temperature: 0,
    maxTokens: 12,
    ...fields,
  });
}

const messages: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'Tell me about the wind.' },
];

// What the OpenAI chat completion LlamaIndex keeps as `raw` reports as usage.
type RawUsage = { usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null };

describe('LlamaIndex OpenAI LLM (/v1/chat/completions)', () => {
  it('chat: an assistant message with text, the raw completion with usage', async () => {
    const res = await llm().chat({ messages });
    expect(wire.sent.at(-1)).toMatchObject({ path: '/v1/chat/completions', body: { model: stack.modelId, max_tokens: 12, temperature: 0 } });
    expect(res.message.role).toBe('assistant');
    expect(typeof res.message.content).toBe('string');
    expect((res.message.content as string).length).toBeGreaterThan(0);
    const usage = (res.raw as RawUsage).usage!;
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeLessThanOrEqual(12);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
    // An unknown model: LlamaIndex's fallback metadata, the request unchanged.
    expect(llm().metadata.contextWindow).toBe(1024);
  });

  it('streamed chat: the deltas join into the greedy answer; usage arrives when asked for', async () => {
    const whole = await llm().chat({ messages });
    const stream = await llm().chat({ messages, stream: true, additionalChatOptions: { stream_options: { include_usage: true } } });
    let text = '';
    let chunks = 0;
    let usage: RawUsage['usage'] = null;
    for await (const chunk of stream) {
      text += chunk.delta;
      chunks++;
      usage = (chunk.raw as RawUsage).usage ?? usage;
    }
    expect(wire.sent.at(-1)!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(chunks).toBeGreaterThan(1);
    expect(text).toBe(whole.message.content);
    // Counts only: cached_tokens depends on what the node's prefix cache holds at the time.
    const wholeUsage = (whole.raw as RawUsage).usage!;
    expect(usage).toMatchObject({ prompt_tokens: wholeUsage.prompt_tokens, completion_tokens: wholeUsage.completion_tokens, total_tokens: wholeUsage.total_tokens });
  });

  it('chat with a zod responseFormat: the content parses and validates', async () => {
    for (const seed of [1, 2]) {
      const res = await llm({ maxTokens: 400, temperature: 1 }).chat({
        messages: [{ role: 'user', content: 'Describe a city as JSON.' }],
        responseFormat: CITY_ZOD,
        additionalChatOptions: { seed },
      });
      expect(wire.sent.at(-1)!.body).toMatchObject({ seed, response_format: { type: 'json_schema', json_schema: { strict: true } } });
      expect(CITY_ZOD.safeParse(JSON.parse(res.message.content as string)).success).toBe(true);
    }
  });
});

type ResponsesUsage = { input_tokens: number; output_tokens: number; total_tokens: number };

function responsesLlm(fields: { maxOutputTokens?: number } = {}): OpenAIResponses {
  return new OpenAIResponses({
    model: stack.modelId,
    apiKey,
    baseURL: `${stack.gateway.url}/v1`,
    additionalSessionOptions: { fetch: wire.fetch },
    maxRetries: 0,
    maxOutputTokens: 12,
    // OpenAIResponses never puts its `temperature` field in the request (its typed chat
    // options leave it out too): this is the only way to ask for a greedy answer.
    additionalChatOptions: { temperature: 0 } as never,
    ...fields,
  });
}

describe('LlamaIndex OpenAIResponses LLM (/v1/responses)', () => {
  it('chat: the greedy answer the chat route gives', async () => {
    const chat = await llm().chat({ messages });
    const res = await responsesLlm().chat({ messages });
    expect(wire.sent.at(-1)).toMatchObject({
      path: '/v1/responses',
      body: { model: stack.modelId, max_output_tokens: 12, temperature: 0, previous_response_id: null, store: false, instructions: '' },
    });
    expect(res.message.role).toBe('assistant');
    expect(res.message.content).toBe(chat.message.content);
    // The same prompt: empty instructions add nothing, LlamaIndex's "developer" role is a system one.
    const usage = (res.raw as { usage: ResponsesUsage }).usage;
    expect(usage.input_tokens).toBe((chat.raw as RawUsage).usage!.prompt_tokens);
    expect(usage.output_tokens).toBe((chat.raw as RawUsage).usage!.completion_tokens);
  });

  it('streamed chat: the text deltas join into the same answer; the last event has usage', async () => {
    const whole = await responsesLlm().chat({ messages });
    let text = '';
    let textChunks = 0;
    let usage: ResponsesUsage | null = null;
    for await (const chunk of await responsesLlm().chat({ messages, stream: true })) {
      // LlamaIndex yields a chunk per event and keeps the last text delta in the chunks of the
      // events after it (output_text.done, …, response.completed): only text-delta events'
      // chunks carry new text, as from OpenAI's own server. It drops the usage it collects,
      // so it is read from the raw last event (response.incomplete here: max_output_tokens).
      const event = chunk.raw as { type: string; response?: { usage: ResponsesUsage } };
      if (event.type === 'response.output_text.delta') {
        text += chunk.delta;
        textChunks++;
      }
      if (event.type === 'response.completed' || event.type === 'response.incomplete') usage = event.response!.usage;
    }
    expect(wire.sent.at(-1)!.body).toMatchObject({ stream: true });
    expect(textChunks).toBeGreaterThan(1);
    expect(text).toBe(whole.message.content);
    const wholeUsage = (whole.raw as { usage: ResponsesUsage }).usage;
    expect(usage!.input_tokens).toBe(wholeUsage.input_tokens);
    expect(usage!.output_tokens).toBe(wholeUsage.output_tokens);
    expect(usage!.total_tokens).toBe(usage!.input_tokens + usage!.output_tokens);
  });
});

// Both tools as LlamaIndex FunctionTools (zod parameters, which LlamaIndex turns into the
// JSON schema it sends). They are never run here: the tests send the results themselves.
const tools = [
  tool({ name: 'get_weather', description: 'Current weather in a city', parameters: WEATHER_ZOD, execute: () => JSON.stringify(WEATHER_RESULT) }),
  tool({ name: 'get_time', description: 'Current time in a zone', parameters: TIME_ZOD, execute: () => JSON.stringify(TIME_RESULT) }),
];
const ask: ChatMessage[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
const resultOf = (name: string) => JSON.stringify(name === 'get_time' ? TIME_RESULT : WEATHER_RESULT);

// LlamaIndex keeps a call's input as the arguments string from a whole answer and as the
// parsed object from a stream.
function expectValidToolCalls(options: ToolCallLLMMessageOptions | undefined): (ToolCall | PartialToolCall)[] {
  const calls = (options as { toolCall?: (ToolCall | PartialToolCall)[] } | undefined)?.toolCall ?? [];
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls) {
    expect(call.id).toMatch(MISTRAL_CALL_ID);
    expectValidInput(call.name, call.input);
  }
  return calls;
}

// The call as the next request sends it back, then its result (LlamaIndex's toolResult).
function roundTrip(response: ChatResponse<ToolCallLLMMessageOptions>, call: ToolCall | PartialToolCall): ChatMessage<ToolCallLLMMessageOptions>[] {
  return [
    ...ask,
    { role: 'assistant', content: response.message.content, options: { toolCall: [call] } },
    { role: 'user', content: resultOf(call.name), options: { toolResult: { id: call.id, result: resultOf(call.name), isError: false } } },
  ];
}

type RawChoice = { choices: { finish_reason: string }[]; usage: { prompt_tokens: number; completion_tokens: number } };

describe('LlamaIndex tool calling, OpenAI LLM (/v1/chat/completions)', () => {
  it("chat with tools and tool_choice 'required': a tool call with valid input", async () => {
    for (const seed of [1, 2]) {
      const res = await llm({ maxTokens: 200, temperature: 1 }).chat({ messages: ask, tools, additionalChatOptions: { tool_choice: 'required', parallel_tool_calls: false, seed } });
      const sent = wire.sent.at(-1)!.body;
      expect(sent).toMatchObject({ tool_choice: 'required', parallel_tool_calls: false, seed });
      expect((sent.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual(['get_weather', 'get_time']);
      expect(expectValidToolCalls(res.message.options)).toHaveLength(1);
      expect((res.raw as RawChoice).choices[0]!.finish_reason).toBe('tool_calls');
      expect(res.message.content).toBe('');
    }
  });

  it('chat with a named tool_choice: exactly one call, of that tool', async () => {
    const res = await llm({ maxTokens: 200, temperature: 1 }).chat({ messages: ask, tools, additionalChatOptions: { tool_choice: { type: 'function', function: { name: 'get_time' } }, seed: 3 } });
    expect(expectValidToolCalls(res.message.options).map((c) => c.name)).toEqual(['get_time']);
  });

  it('streamed chat: the call (parsed) is the greedy one a whole chat gives', async () => {
    const request = { messages: ask, tools, additionalChatOptions: { tool_choice: 'required' as const, parallel_tool_calls: false } };
    const whole = await llm({ maxTokens: 200 }).chat(request);
    let options: ToolCallLLMMessageOptions | undefined;
    let finish: string | null = null;
    for await (const chunk of await llm({ maxTokens: 200 }).chat({ ...request, stream: true })) {
      options = chunk.options ?? options;
      finish = (chunk.raw as { choices: { finish_reason: string | null }[] }).choices[0]?.finish_reason ?? finish;
    }
    expect(wire.sent.at(-1)!.body).toMatchObject({ stream: true, tool_choice: 'required' });
    expect(finish).toBe('tool_calls');
    const [streamed] = expectValidToolCalls(options);
    const [call] = expectValidToolCalls(whole.message.options);
    expect(typeof streamed!.input).toBe('object');
    expect([streamed!.name, streamed!.input]).toEqual([call!.name, JSON.parse(call!.input as string)]);
  });

  it('round trip: the call, its toolResult, then a text answer', async () => {
    const first = await llm({ maxTokens: 200 }).chat({ messages: ask, tools, additionalChatOptions: { tool_choice: 'required', parallel_tool_calls: false, seed: 4 } });
    const [call] = expectValidToolCalls(first.message.options);
    const answer = await llm({ maxTokens: 12 }).chat({ messages: roundTrip(first, call!), tools, additionalChatOptions: { tool_choice: 'none' } });
    const sent = wire.sent.at(-1)!.body.messages as { role: string; tool_call_id?: string; tool_calls?: { id: string }[] }[];
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(sent[1]!.tool_calls!.map((c) => c.id)).toEqual([call!.id]);
    expect(sent[2]!.tool_call_id).toBe(call!.id);
    expect((answer.message.content as string).length).toBeGreaterThan(0);
    expect(answer.message.options).toEqual({});
    expect(['stop', 'length']).toContain((answer.raw as RawChoice).choices[0]!.finish_reason);
    const plain = await llm({ maxTokens: 1 }).chat({ messages: ask });
    expect((answer.raw as RawChoice).usage.prompt_tokens).toBeGreaterThan((plain.raw as RawChoice).usage.prompt_tokens + 20);
  });
});

describe('LlamaIndex tool calling, OpenAIResponses LLM (/v1/responses)', () => {
  it("chat with tools and tool_choice 'required': a function call with valid input", async () => {
    const res = await responsesLlm({ maxOutputTokens: 200 }).chat({ messages: ask, tools, additionalChatOptions: { tool_choice: 'required', parallel_tool_calls: false, temperature: 1 } as never });
    const sent = wire.sent.at(-1)!.body;
    expect(sent).toMatchObject({ tool_choice: 'required', parallel_tool_calls: false, max_output_tokens: 200, temperature: 1 });
    expect((sent.tools as { type: string; name: string }[]).map((t) => [t.type, t.name])).toEqual([
      ['function', 'get_weather'],
      ['function', 'get_time'],
    ]);
    expect(expectValidToolCalls(res.message.options)).toHaveLength(1);
    expect((res.raw as { output: { type: string }[] }).output.map((o) => o.type)).toEqual(['function_call']);
  });

  it('round trip: function_call and function_call_output items, then a text answer', async () => {
    const first = await responsesLlm({ maxOutputTokens: 200 }).chat({ messages: ask, tools, additionalChatOptions: { tool_choice: 'required', parallel_tool_calls: false } as never });
    const [call] = expectValidToolCalls(first.message.options);
    const answer = await responsesLlm().chat({ messages: roundTrip(first, call!), tools, additionalChatOptions: { tool_choice: 'none' } as never });
    const input = wire.sent.at(-1)!.body.input as { type?: string; call_id?: string }[];
    expect(input.filter((i) => i.type === 'function_call').map((i) => i.call_id)).toEqual([call!.id]);
    expect(input.filter((i) => i.type === 'function_call_output').map((i) => i.call_id)).toEqual([call!.id]);
    expect((answer.message.content as string).length).toBeGreaterThan(0);
    expect((answer.message.options as { toolCall?: unknown[] }).toolCall ?? []).toEqual([]);
  });
});
