// LangChain JS (`@langchain/openai` ChatOpenAI with configuration.baseURL) against a running
// gateway: invoke, stream (LangChain asks for stream_options.include_usage and folds the last
// chunk's usage into usage_metadata, which must match a whole call's), withStructuredOutput
// with a zod schema (method jsonSchema: response_format json_schema, enforced by constrained
// decoding, so the random-weight model's object validates), and useResponsesApi (the same
// model through POST /v1/responses).
import { HumanMessage, SystemMessage, type AIMessageChunk } from '@langchain/core/messages';
import { ChatOpenAI, type ChatOpenAIFields } from '@langchain/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITY_ZOD } from './helpers/city_zod.ts';
import { recordingFetch, type RecordingFetch } from './helpers/recording_fetch.ts';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let apiKey: string;
let wire: RecordingFetch;
beforeAll(async () => {
  stack = await startStack();
  apiKey = await stack.createKey('langchain');
  wire = recordingFetch();
}, 120_000);
afterAll(async () => stack?.stop());

function chatModel(fields: ChatOpenAIFields = {}): ChatOpenAI {
  return new ChatOpenAI({
    model: stack.modelId,
    apiKey,
    configuration: { baseURL: `${stack.gateway.url}/v1`, fetch: wire.fetch },
    maxRetries: 0,
    temperature: 0,
    maxTokens: 12,
    ...fields,
  });
}

const messages = [new SystemMessage('You are terse.'), new HumanMessage('Tell me about the wind.')];

describe('LangChain ChatOpenAI', () => {
  it('invoke: an AIMessage with text, usage_metadata and response metadata', async () => {
    const res = await chatModel().invoke(messages);
    expect(wire.sent.at(-1)).toMatchObject({ path: '/v1/chat/completions', body: { model: stack.modelId, max_tokens: 12, temperature: 0 } });
    expect(typeof res.content).toBe('string');
    expect((res.content as string).length).toBeGreaterThan(0);
    expect(res.usage_metadata!.input_tokens).toBeGreaterThan(0);
    expect(res.usage_metadata!.output_tokens).toBeGreaterThan(0);
    expect(res.usage_metadata!.output_tokens).toBeLessThanOrEqual(12);
    expect(res.usage_metadata!.total_tokens).toBe(res.usage_metadata!.input_tokens + res.usage_metadata!.output_tokens);
    expect(['stop', 'length']).toContain(res.response_metadata.finish_reason);
    expect(res.response_metadata.model_name).toBe(stack.modelId);
  });

  it('stream: the chunks join into the greedy answer, usage_metadata equal to invoke', async () => {
    const model = chatModel();
    const whole = await model.invoke(messages);
    let joined: AIMessageChunk | undefined;
    let chunks = 0;
    for await (const chunk of await model.stream(messages)) {
      joined = joined === undefined ? chunk : joined.concat(chunk);
      chunks++;
    }
    expect(wire.sent.at(-1)!.body).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(chunks).toBeGreaterThan(1);
    expect(joined!.content).toBe(whole.content);
    expect(joined!.usage_metadata).toBeDefined();
    expect(joined!.usage_metadata!.input_tokens).toBe(whole.usage_metadata!.input_tokens);
    expect(joined!.usage_metadata!.output_tokens).toBe(whole.usage_metadata!.output_tokens);
    expect(joined!.usage_metadata!.total_tokens).toBe(whole.usage_metadata!.total_tokens);
  });

  it('withStructuredOutput(zod, jsonSchema): a valid object, at several seeds', async () => {
    for (const seed of [1, 2]) {
      const structured = chatModel({ maxTokens: 400, temperature: 1, modelKwargs: { seed } }).withStructuredOutput(CITY_ZOD, { method: 'jsonSchema', name: 'city' });
      const city = await structured.invoke([new HumanMessage('Describe a city as JSON.')]);
      const sent = wire.sent.at(-1)!.body;
      expect(sent).toMatchObject({ seed, response_format: { type: 'json_schema', json_schema: { name: 'city' } } });
      expect(CITY_ZOD.safeParse(city).success).toBe(true);
    }
  });

  it('useResponsesApi: invoke through /v1/responses, the same greedy text and prompt tokens', async () => {
    const chat = await chatModel().invoke(messages);
    const res = await chatModel({ useResponsesApi: true }).invoke(messages);
    expect(wire.sent.at(-1)).toMatchObject({ path: '/v1/responses', body: { model: stack.modelId, max_output_tokens: 12 } });
    expect(res.text).toBe(chat.text);
    expect(res.usage_metadata!.input_tokens).toBe(chat.usage_metadata!.input_tokens);
    expect(res.usage_metadata!.output_tokens).toBe(chat.usage_metadata!.output_tokens);
  });
});

// TOOL CALLING (not yet in the gateway): bindTools / withStructuredOutput(method
// functionCalling) / tool_choice tests go here once tool calling lands.
