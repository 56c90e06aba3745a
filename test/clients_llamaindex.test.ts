// LlamaIndex TS (`@llamaindex/openai`, the provider package alone, not the `llamaindex`
// meta-package) against a running gateway: its OpenAI LLM class with a custom baseURL and a
// model name LlamaIndex does not know (it then assumes a small context window and sends the
// request as is): chat, streamed chat (with usage when asked through additionalChatOptions),
// chat with a zod responseFormat (LlamaIndex's own zod-to-JSON-schema, sent as a strict
// json_schema), and the OpenAIResponses class (POST /v1/responses, which sends
// previous_response_id: null and store: false on every call).
import { OpenAI, OpenAIResponses } from '@llamaindex/openai';
import type { ChatMessage } from '@llamaindex/core/llms';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITY_ZOD } from './helpers/city_zod.ts';
import { recordingFetch, type RecordingFetch } from './helpers/recording_fetch.ts';
import { startStack, type Stack } from './helpers/stack.ts';

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

describe('LlamaIndex OpenAIResponses LLM (/v1/responses)', () => {
  function responsesLlm(): OpenAIResponses {
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
    });
  }

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

// TOOL CALLING (not yet in the gateway): chat with `tools` (LlamaIndex's ToolCallLLM,
// message.options.toolCall) for both classes goes here once tool calling lands.
