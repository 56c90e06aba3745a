// LangChain JS (`@langchain/openai` ChatOpenAI with configuration.baseURL) against a running
// gateway: invoke, stream (LangChain asks for stream_options.include_usage and folds the last
// chunk's usage into usage_metadata, which must match a whole call's), withStructuredOutput
// with a zod schema (method jsonSchema: response_format json_schema, enforced by constrained
// decoding, so the random-weight model's object validates), useResponsesApi (the same
// model through POST /v1/responses), and tool calling: bindTools with tool_choice required
// or named (tool_calls whose parsed args validate against the tools' zod schemas, exactly one
// call for a named choice), streamed tool_call_chunks, a round trip with a ToolMessage, and
// withStructuredOutput(zod, functionCalling) (a forced call of the schema's function).
import { HumanMessage, SystemMessage, ToolMessage, type AIMessage, type AIMessageChunk } from '@langchain/core/messages';
import { tool } from '@langchain/core/tools';
import { ChatOpenAI, type ChatOpenAIFields } from '@langchain/openai';
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

// Both tools as LangChain tools (zod schemas, which LangChain turns into the functions'
// parameters). Their functions are never run here: the tests send the results themselves.
const getWeather = tool(async () => JSON.stringify(WEATHER_RESULT), { name: 'get_weather', description: 'Current weather in a city', schema: WEATHER_ZOD });
const getTime = tool(async () => JSON.stringify(TIME_RESULT), { name: 'get_time', description: 'Current time in a zone', schema: TIME_ZOD });
const ask = [new HumanMessage('What is the weather in Paris?')];

// LangChain parsed each call's arguments into `args`; arguments that failed to parse would be
// in invalid_tool_calls instead.
function expectValidToolCalls(res: AIMessage): NonNullable<AIMessage['tool_calls']> {
  const calls = res.tool_calls ?? [];
  expect(res.invalid_tool_calls ?? []).toEqual([]);
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls) {
    expect(call.id).toMatch(MISTRAL_CALL_ID);
    expect(call.type).toBe('tool_call');
    expectValidInput(call.name, call.args);
  }
  expect(res.response_metadata.finish_reason).toBe('tool_calls');
  return calls;
}

describe('LangChain tool calling', () => {
  it("bindTools with tool_choice 'required': tool_calls whose args validate", async () => {
    for (const seed of [1, 2]) {
      const model = chatModel({ maxTokens: 200, temperature: 1, modelKwargs: { seed } }).bindTools([getWeather, getTime], { tool_choice: 'required', parallel_tool_calls: false });
      const res = await model.invoke(ask);
      const sent = wire.sent.at(-1)!.body;
      expect(sent).toMatchObject({ tool_choice: 'required', parallel_tool_calls: false, seed });
      expect((sent.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual(['get_weather', 'get_time']);
      expect(expectValidToolCalls(res)).toHaveLength(1);
      expect(res.content).toBe('');
    }
  });

  it('bindTools with a named tool_choice: exactly one call, of that tool', async () => {
    for (const seed of [3, 4]) {
      const res = await chatModel({ maxTokens: 200, temperature: 1, modelKwargs: { seed } }).bindTools([getWeather, getTime], { tool_choice: 'get_time' }).invoke(ask);
      const sent = wire.sent.at(-1)!.body;
      expect(sent.tool_choice).toEqual({ type: 'function', function: { name: 'get_time' } });
      expect(sent.parallel_tool_calls).toBeUndefined();
      expect(expectValidToolCalls(res).map((c) => c.name)).toEqual(['get_time']);
    }
  });

  it('stream: the tool_call_chunks join into the calls invoke gives, with usage', async () => {
    const model = chatModel({ maxTokens: 200, temperature: 0 }).bindTools([getWeather, getTime], { tool_choice: 'required', parallel_tool_calls: false });
    const whole = await model.invoke(ask);
    let joined: AIMessageChunk | undefined;
    for await (const chunk of await model.stream(ask)) joined = joined === undefined ? chunk : joined.concat(chunk);
    expect(wire.sent.at(-1)!.body).toMatchObject({ stream: true, tool_choice: 'required' });
    const calls = expectValidToolCalls(joined!);
    // Greedy, so the same call (its id is drawn afresh for each answer).
    expect(calls.map((c) => [c.name, c.args])).toEqual(expectValidToolCalls(whole).map((c) => [c.name, c.args]));
    expect(joined!.usage_metadata!.output_tokens).toBe(whole.usage_metadata!.output_tokens);
  });

  it('round trip: the call, a ToolMessage with its result, then a text answer', async () => {
    const first = await chatModel({ maxTokens: 200, modelKwargs: { seed: 4 } }).bindTools([getWeather, getTime], { tool_choice: 'required', parallel_tool_calls: false }).invoke(ask);
    const call = expectValidToolCalls(first)[0]!;
    const history = [...ask, first, new ToolMessage({ tool_call_id: call.id!, content: JSON.stringify(call.name === 'get_time' ? TIME_RESULT : WEATHER_RESULT) })];
    const answer = await chatModel({ maxTokens: 12 }).bindTools([getWeather, getTime], { tool_choice: 'none' }).invoke(history);
    const sent = wire.sent.at(-1)!.body.messages as { role: string; tool_call_id?: string; tool_calls?: { id: string }[] }[];
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(sent[1]!.tool_calls!.map((c) => c.id)).toEqual([call.id]);
    expect(sent[2]!.tool_call_id).toBe(call.id);
    expect(typeof answer.content).toBe('string');
    expect((answer.content as string).length).toBeGreaterThan(0);
    expect(answer.tool_calls ?? []).toEqual([]);
    expect(['stop', 'length']).toContain(answer.response_metadata.finish_reason);
    // The call and its result are in the prompt (tool_choice none leaves the tools out).
    const plain = await chatModel({ maxTokens: 1 }).invoke(ask);
    expect(answer.usage_metadata!.input_tokens).toBeGreaterThan(plain.usage_metadata!.input_tokens + 20);
  });

  it('withStructuredOutput(zod, functionCalling): a valid object through a forced call', async () => {
    for (const seed of [1, 2]) {
      const structured = chatModel({ maxTokens: 400, temperature: 1, modelKwargs: { seed } }).withStructuredOutput(CITY_ZOD, { method: 'functionCalling', name: 'city', includeRaw: true });
      const { raw, parsed } = await structured.invoke([new HumanMessage('Describe a city.')]);
      const sent = wire.sent.at(-1)!.body;
      expect(sent).toMatchObject({ seed, tool_choice: { type: 'function', function: { name: 'city' } } });
      expect(sent.response_format).toBeUndefined();
      // A named tool_choice is exactly one call (parallel_tool_calls is not sent here).
      expect(sent.parallel_tool_calls).toBeUndefined();
      expect((raw as AIMessage).tool_calls!.map((c) => c.name)).toEqual(['city']);
      expect((raw as AIMessage).tool_calls![0]!.id).toMatch(MISTRAL_CALL_ID);
      expect((raw as AIMessage).response_metadata.finish_reason).toBe('tool_calls');
      expect(CITY_ZOD.safeParse(parsed).success).toBe(true);
    }
  });
});
