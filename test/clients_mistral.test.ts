// Mistral's own SDK (`@mistralai/mistralai`, `new Mistral({ serverURL })`) against a running
// gateway. The SDK validates every response with its own zod schemas, so these tests check
// that the gateway's answers parse as Mistral's API answers: chat.complete, chat.stream,
// random_seed (Mistral's name for seed), safe_prompt, models.list / models.retrieve (model
// cards with typed capabilities), structured output both as an explicit response_format
// json_schema and through chat.parse (the SDK turns a zod schema into a strict JSON schema),
// and tool calling: toolChoice 'any' and named (Mistral's 9-character ids; arguments, string
// or object, that fit the tool), a round trip with a `tool` message, streamed calls. A stream
// ends with usage on its finish chunk, as Mistral's API does, without stream_options.
import { HTTPClient, Mistral } from '@mistralai/mistralai';
import type { BaseModelCard, ChatCompletionResponse, ChatCompletionRequestMessage, CompletionChunk, ToolCall } from '@mistralai/mistralai/models/components';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITY, expectCity } from './helpers/city_schema.ts';
import { CITY_ZOD } from './helpers/city_zod.ts';
import { recordingFetch, type RecordingFetch } from './helpers/recording_fetch.ts';
import { startStack, type Stack } from './helpers/stack.ts';
import { MISTRAL_CALL_ID, WEATHER_TOOLS } from './helpers/weather_tools.ts';
import { expectValidInput, TIME_RESULT, WEATHER_RESULT } from './helpers/weather_zod.ts';

let stack: Stack;
let client: Mistral;
let wire: RecordingFetch;
beforeAll(async () => {
  stack = await startStack();
  wire = recordingFetch();
  client = new Mistral({
    apiKey: await stack.createKey('mistral'),
    serverURL: stack.gateway.url,
    httpClient: new HTTPClient({ fetcher: wire.fetch }),
    retryConfig: { strategy: 'none' },
  });
}, 120_000);
afterAll(async () => stack?.stop());

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Tell me about the wind.' },
];

// The first choice's text: the SDK types content as a string or an array of chunks.
function textOf(res: ChatCompletionResponse): string {
  const content = res.choices[0]!.message!.content;
  expect(typeof content).toBe('string');
  return content as string;
}

describe('Mistral SDK chat', () => {
  it('chat.complete: text, finish reason and usage', async () => {
    const res = await client.chat.complete({ model: stack.modelId, messages, maxTokens: 12, temperature: 0 });
    expect(wire.sent.at(-1)).toMatchObject({ path: '/v1/chat/completions', body: { model: stack.modelId, max_tokens: 12, temperature: 0 } });
    expect(textOf(res).length).toBeGreaterThan(0);
    expect(res.model).toBe(stack.modelId);
    expect(res.object).toBe('chat.completion');
    expect(res.choices[0]!.message!.role).toBe('assistant');
    expect(['stop', 'length']).toContain(res.choices[0]!.finishReason);
    expect(res.usage.promptTokens).toBeGreaterThan(0);
    expect(res.usage.completionTokens).toBeGreaterThan(0);
    expect(res.usage.completionTokens).toBeLessThanOrEqual(12);
    expect(res.usage.totalTokens).toBe(res.usage.promptTokens! + res.usage.completionTokens!);
  });

  it('chat.stream: the deltas join into the greedy answer chat.complete gives', async () => {
    const whole = await client.chat.complete({ model: stack.modelId, messages, maxTokens: 12, temperature: 0 });
    const stream = await client.chat.stream({ model: stack.modelId, messages, maxTokens: 12, temperature: 0 });
    let text = '';
    let chunks = 0;
    let finish: string | null = null;
    let last: CompletionChunk | undefined;
    for await (const event of stream) {
      last = event.data;
      const choice = event.data.choices[0];
      if (choice === undefined) continue;
      expect(event.data.model).toBe(stack.modelId);
      const delta = choice.delta.content;
      if (typeof delta === 'string') text += delta;
      finish = choice.finishReason ?? finish;
      chunks++;
    }
    expect(wire.sent.at(-1)!.body).toMatchObject({ stream: true });
    expect(chunks).toBeGreaterThan(1);
    expect(text).toBe(textOf(whole));
    expect(finish).toBe(whole.choices[0]!.finishReason);
    // Without stream_options (the SDK sends none), the finish chunk carries the usage, as
    // Mistral's API does: the last event the SDK yields has the counts chat.complete reports.
    expect(wire.sent.at(-1)!.body.stream_options).toBeUndefined();
    expect(last!.choices[0]!.finishReason).toBe(finish);
    expect(last!.usage).toMatchObject({ promptTokens: whole.usage.promptTokens, completionTokens: whole.usage.completionTokens, totalTokens: whole.usage.totalTokens });
  });

  it('randomSeed: the same seed at temperature 1 gives the same text, different seeds differ', async () => {
    const sample = async (randomSeed: number) =>
      textOf(await client.chat.complete({ model: stack.modelId, messages, maxTokens: 16, temperature: 1, randomSeed }));
    const first = await sample(11);
    expect(wire.sent.at(-1)!.body).toMatchObject({ random_seed: 11, temperature: 1 });
    expect(await sample(11)).toBe(first);
    const others = [await sample(12), await sample(13), await sample(14)];
    // Four seeds giving one and the same 16 sampled tokens would mean the seed is not used.
    expect(new Set([first, ...others]).size).toBeGreaterThan(1);
  });

  it('safePrompt: the guardrail system prompt is added to the prompt', async () => {
    const plain = await client.chat.complete({ model: stack.modelId, messages, maxTokens: 4, temperature: 0 });
    const safe = await client.chat.complete({ model: stack.modelId, messages, maxTokens: 4, temperature: 0, safePrompt: true });
    expect(wire.sent.at(-1)!.body).toMatchObject({ safe_prompt: true });
    expect(safe.usage.promptTokens).toBeGreaterThan(plain.usage.promptTokens! + 10);
    expect(textOf(safe).length).toBeGreaterThan(0);
  });
});

// A card the SDK parsed as a base model card (its type picks the variant of a union whose
// other members are fine-tuned cards and unknown types).
function asBaseCard(card: { type?: string } | undefined): BaseModelCard {
  expect(card?.type).toBe('base');
  return card as BaseModelCard;
}

describe('Mistral SDK models', () => {
  it('models.list: the served model as a base model card with typed capabilities', async () => {
    const list = await client.models.list();
    const cards = list.data!.map(asBaseCard);
    const card = cards.find((m) => m.id === stack.modelId);
    expect(card).toBeDefined();
    expect(card!.object).toBe('model');
    expect(card!.capabilities.completionChat).toBe(true);
    expect(typeof card!.capabilities.functionCalling).toBe('boolean');
    expect(card!.maxContextLength).toBeGreaterThan(0);
  });

  it('models.retrieve: the same card; an unknown id is a 404 the SDK raises', async () => {
    const card = asBaseCard(await client.models.retrieve({ modelId: stack.modelId }));
    expect(card.id).toBe(stack.modelId);
    expect(card.capabilities.completionChat).toBe(true);
    expect(card.maxContextLength).toBeGreaterThan(0);
    expect(card.ownedBy).toBe('sirocco');
    const missing = await client.models.retrieve({ modelId: 'no-such-model' }).then(
      () => 'found',
      (err: { statusCode?: number }) => err.statusCode,
    );
    expect(missing).toBe(404);
  });
});

describe('Mistral SDK structured output', () => {
  it('responseFormat json_schema: the content validates', async () => {
    const res = await client.chat.complete({
      model: stack.modelId,
      messages: [{ role: 'user', content: 'Describe a city as JSON.' }],
      responseFormat: { type: 'json_schema', jsonSchema: { name: 'city', schemaDefinition: CITY, strict: true } },
      maxTokens: 400,
      temperature: 1,
      randomSeed: 5,
    });
    expect(wire.sent.at(-1)!.body.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'city', schema: CITY, strict: true } });
    expect(res.choices[0]!.finishReason).toBe('stop');
    expectCity(textOf(res));
  });

  it('chat.parse with a zod schema: message.parsed is the validated object', async () => {
    const res = await client.chat.parse({
      model: stack.modelId,
      messages: [{ role: 'user', content: 'Describe a city as JSON.' }],
      responseFormat: CITY_ZOD,
      maxTokens: 400,
      temperature: 1,
      randomSeed: 6,
    });
    expect(wire.sent.at(-1)!.body.response_format).toMatchObject({ type: 'json_schema', json_schema: { strict: true } });
    const parsed: unknown = res.choices![0]!.message!.parsed;
    expect(parsed).toBeDefined();
    expect(CITY_ZOD.safeParse(parsed).success).toBe(true);
  });
});

const ask: ChatCompletionRequestMessage[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
// The shared tools as Mistral's SDK takes them (it sends `strict` as it is).
const tools = WEATHER_TOOLS;

// Mistral's SDK types a call's arguments as a JSON string or an already parsed object.
function expectValidToolCalls(calls: ToolCall[] | null | undefined): ToolCall[] {
  expect(calls?.length).toBeGreaterThan(0);
  for (const call of calls!) {
    expect(call.id).toMatch(MISTRAL_CALL_ID);
    expect(call.type).toBe('function');
    expectValidInput(call.function.name, call.function.arguments);
  }
  expect(new Set(calls!.map((c) => c.id)).size).toBe(calls!.length);
  return calls!;
}

describe('Mistral SDK tool calling', () => {
  it("chat.complete toolChoice 'any': tool calls with valid arguments, finish reason tool_calls", async () => {
    for (const randomSeed of [1, 2]) {
      const res = await client.chat.complete({ model: stack.modelId, messages: ask, tools, toolChoice: 'any', parallelToolCalls: false, maxTokens: 200, temperature: 1, randomSeed });
      expect(wire.sent.at(-1)!.body).toMatchObject({ tool_choice: 'any', parallel_tool_calls: false, random_seed: randomSeed });
      const choice = res.choices[0]!;
      expect(choice.finishReason).toBe('tool_calls');
      expect(expectValidToolCalls(choice.message!.toolCalls)).toHaveLength(1);
      expect(choice.message!.content ?? '').toBe('');
      expect(res.usage.completionTokens).toBeGreaterThan(0);
    }
  });

  it('chat.complete with a named toolChoice: exactly one call, of that tool', async () => {
    const res = await client.chat.complete({
      model: stack.modelId,
      messages: ask,
      tools,
      toolChoice: { type: 'function', function: { name: 'get_time' } },
      maxTokens: 200,
      temperature: 1,
      randomSeed: 3,
    });
    expect(wire.sent.at(-1)!.body.tool_choice).toEqual({ type: 'function', function: { name: 'get_time' } });
    expect(res.choices[0]!.finishReason).toBe('tool_calls');
    expect(expectValidToolCalls(res.choices[0]!.message!.toolCalls).map((c) => c.function.name)).toEqual(['get_time']);
  });

  it('round trip: the call, a tool message with its result, then a text answer', async () => {
    const first = await client.chat.complete({ model: stack.modelId, messages: ask, tools, toolChoice: 'any', parallelToolCalls: false, maxTokens: 200, randomSeed: 4 });
    const call = expectValidToolCalls(first.choices[0]!.message!.toolCalls)[0]!;
    const history: ChatCompletionRequestMessage[] = [
      ...ask,
      { role: 'assistant', content: first.choices[0]!.message!.content ?? '', toolCalls: [call] },
      { role: 'tool', toolCallId: call.id!, name: call.function.name, content: JSON.stringify(call.function.name === 'get_time' ? TIME_RESULT : WEATHER_RESULT) },
    ];
    const answer = await client.chat.complete({ model: stack.modelId, messages: history, tools, toolChoice: 'none', maxTokens: 12, temperature: 0 });
    const sent = wire.sent.at(-1)!.body.messages as { role: string; tool_call_id?: string; name?: string; tool_calls?: { id: string }[] }[];
    expect(sent.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(sent[1]!.tool_calls!.map((c) => c.id)).toEqual([call.id]);
    expect(sent[2]).toMatchObject({ tool_call_id: call.id, name: call.function.name });
    expect(textOf(answer).length).toBeGreaterThan(0);
    expect(answer.choices[0]!.message!.toolCalls ?? []).toEqual([]);
    expect(['stop', 'length']).toContain(answer.choices[0]!.finishReason);
    // The call and its result are in the prompt (tool_choice none leaves the tools out).
    const plain = await client.chat.complete({ model: stack.modelId, messages: ask, maxTokens: 1 });
    expect(answer.usage.promptTokens).toBeGreaterThan(plain.usage.promptTokens! + 20);
  });

  it('chat.stream: the call arrives whole in a toolCalls delta, the greedy one chat.complete gives; usage at the end', async () => {
    const request = { model: stack.modelId, messages: ask, tools, toolChoice: 'any' as const, parallelToolCalls: false, maxTokens: 200, temperature: 0 };
    const whole = await client.chat.complete(request);
    const streamed: ToolCall[] = [];
    let finish: string | null = null;
    let last: CompletionChunk | undefined;
    for await (const event of await client.chat.stream(request)) {
      last = event.data;
      const choice = event.data.choices[0];
      if (choice === undefined) continue;
      streamed.push(...(choice.delta.toolCalls ?? []));
      finish = choice.finishReason ?? finish;
    }
    expect(wire.sent.at(-1)!.body).toMatchObject({ stream: true, tool_choice: 'any' });
    expect(finish).toBe('tool_calls');
    const wholeCalls = expectValidToolCalls(whole.choices[0]!.message!.toolCalls);
    // Greedy, so the same call (its id is drawn afresh for each answer).
    expect(expectValidToolCalls(streamed).map((c) => [c.function.name, c.function.arguments])).toEqual(wholeCalls.map((c) => [c.function.name, c.function.arguments]));
    expect(last!.usage).toMatchObject({ promptTokens: whole.usage.promptTokens, completionTokens: whole.usage.completionTokens });
  });
});
