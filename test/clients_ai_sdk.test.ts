// Vercel's AI SDK (`ai` + `@ai-sdk/openai`) against a running gateway: what people write when
// they point the SDK at an OpenAI-compatible server. The chat provider
// (`createOpenAI(...).chat(model)`, POST /v1/chat/completions) with generateText, streamText
// and generateObject (a zod schema, sent as response_format json_schema and enforced by
// constrained decoding, so even the random-weight model's object validates); the default
// provider (`createOpenAI(...)(model)`, POST /v1/responses) likewise; the OpenAI-only
// provider options the SDK sends, which the gateway ignores (and logs) rather than refuses;
// and tool calling through both providers: toolChoice 'required' (the calls' input validates
// against the tools' zod inputSchema), a round trip run by the SDK itself (stopWhen
// stepCountIs(2), prepareStep forcing 'required' then 'none', the tools' execute in between),
// and streamText's tool-call parts equal to generateText's calls.
import { createOpenAI, type OpenAIProvider } from '@ai-sdk/openai';
import { generateObject, generateText, stepCountIs, streamText, tool } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITY_ZOD } from './helpers/city_zod.ts';
import { recordingFetch, type RecordingFetch } from './helpers/recording_fetch.ts';
import { startStack, type Stack } from './helpers/stack.ts';
import { MISTRAL_CALL_ID } from './helpers/weather_tools.ts';
import { expectValidInput, TIME_RESULT, TIME_ZOD, WEATHER_RESULT, WEATHER_ZOD } from './helpers/weather_zod.ts';

let stack: Stack;
let provider: OpenAIProvider;
let wire: RecordingFetch;
beforeAll(async () => {
  stack = await startStack();
  wire = recordingFetch();
  provider = createOpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('ai-sdk'), fetch: wire.fetch });
}, 120_000);
afterAll(async () => stack?.stop());

// The body of the last request the SDK sent to `path`.
function lastSent(path: string): Record<string, unknown> {
  const found = wire.sent.filter((s) => s.path === path).at(-1);
  expect(found, `no request to ${path}`).toBeDefined();
  return found!.body;
}

const prompt = 'Tell me about the wind.';

describe('AI SDK, chat provider (/v1/chat/completions)', () => {
  it('generateText: text, finish reason and usage', async () => {
    const res = await generateText({ model: provider.chat(stack.modelId), prompt, maxOutputTokens: 8, temperature: 0, maxRetries: 0 });
    expect(lastSent('/v1/chat/completions')).toMatchObject({ model: stack.modelId, max_tokens: 8, temperature: 0 });
    expect(res.text.length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(res.finishReason);
    expect(res.usage.inputTokens).toBeGreaterThan(0);
    expect(res.usage.outputTokens).toBeGreaterThan(0);
    expect(res.usage.outputTokens).toBeLessThanOrEqual(8);
    expect(res.usage.totalTokens).toBe(res.usage.inputTokens! + res.usage.outputTokens!);
    expect(res.response.modelId).toBe(stack.modelId);
  });

  it('streamText: the deltas are the greedy answer generateText gives, with the same usage', async () => {
    const whole = await generateText({ model: provider.chat(stack.modelId), prompt, maxOutputTokens: 12, temperature: 0, maxRetries: 0 });
    const stream = streamText({ model: provider.chat(stack.modelId), prompt, maxOutputTokens: 12, temperature: 0, maxRetries: 0 });
    let deltas = '';
    let chunks = 0;
    for await (const delta of stream.textStream) {
      deltas += delta;
      chunks++;
    }
    expect(lastSent('/v1/chat/completions')).toMatchObject({ stream: true, stream_options: { include_usage: true } });
    expect(chunks).toBeGreaterThan(1);
    expect(deltas).toBe(whole.text);
    expect(await stream.text).toBe(deltas);
    expect(await stream.finishReason).toBe(whole.finishReason);
    const usage = await stream.usage;
    expect(usage.inputTokens).toBe(whole.usage.inputTokens);
    expect(usage.outputTokens).toBe(whole.usage.outputTokens);
    expect(usage.totalTokens).toBe(whole.usage.totalTokens);
  });

  it('generateObject with a zod schema: the object validates', async () => {
    for (const seed of [1, 2]) {
      const res = await generateObject({
        model: provider.chat(stack.modelId),
        schema: CITY_ZOD,
        schemaName: 'city',
        prompt: 'Describe a city as JSON.',
        maxOutputTokens: 400,
        temperature: 1,
        seed,
        maxRetries: 0,
      });
      const sent = lastSent('/v1/chat/completions');
      expect(sent.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'city', strict: true } });
      expect(res.finishReason).toBe('stop');
      expect(CITY_ZOD.safeParse(res.object).success).toBe(true);
      expect(res.usage.outputTokens).toBeGreaterThan(0);
    }
  });
});

describe('AI SDK, default provider (/v1/responses)', () => {
  it('generateText: text and usage', async () => {
    const res = await generateText({ model: provider(stack.modelId), prompt, maxOutputTokens: 8, temperature: 0, maxRetries: 0 });
    expect(lastSent('/v1/responses')).toMatchObject({ model: stack.modelId, max_output_tokens: 8 });
    expect(res.text.length).toBeGreaterThan(0);
    expect(res.usage.inputTokens).toBeGreaterThan(0);
    expect(res.usage.outputTokens).toBeGreaterThan(0);
    expect(res.usage.outputTokens).toBeLessThanOrEqual(8);
    expect(res.usage.totalTokens).toBe(res.usage.inputTokens! + res.usage.outputTokens!);
    // The same prompt costs the same input tokens on both routes.
    const chat = await generateText({ model: provider.chat(stack.modelId), prompt, maxOutputTokens: 8, temperature: 0, maxRetries: 0 });
    expect(res.usage.inputTokens).toBe(chat.usage.inputTokens);
    expect(res.text).toBe(chat.text);
  });

  it('streamText: the deltas join into the greedy answer, with usage', async () => {
    const whole = await generateText({ model: provider(stack.modelId), prompt, maxOutputTokens: 12, temperature: 0, maxRetries: 0 });
    const stream = streamText({ model: provider(stack.modelId), prompt, maxOutputTokens: 12, temperature: 0, maxRetries: 0 });
    let deltas = '';
    let chunks = 0;
    for await (const delta of stream.textStream) {
      deltas += delta;
      chunks++;
    }
    expect(lastSent('/v1/responses')).toMatchObject({ stream: true });
    expect(chunks).toBeGreaterThan(1);
    expect(deltas).toBe(whole.text);
    const usage = await stream.usage;
    expect(usage.inputTokens).toBe(whole.usage.inputTokens);
    expect(usage.outputTokens).toBe(whole.usage.outputTokens);
  });

  it('generateObject with a zod schema (text.format json_schema): the object validates', async () => {
    const res = await generateObject({
      model: provider(stack.modelId),
      schema: CITY_ZOD,
      schemaName: 'city',
      prompt: 'Describe a city as JSON.',
      maxOutputTokens: 400,
      temperature: 1,
      maxRetries: 0,
    });
    expect(lastSent('/v1/responses').text).toMatchObject({ format: { type: 'json_schema', name: 'city', strict: true } });
    expect(CITY_ZOD.safeParse(res.object).success).toBe(true);
  });
});

describe('AI SDK provider options the gateway does not implement', () => {
  const providerOptions = { openai: { textVerbosity: 'low', promptCacheKey: 'ai-sdk-test', user: 'someone', parallelToolCalls: false } };

  it('chat: sent, ignored, logged by name, and the answer is unchanged', async () => {
    const plain = await generateText({ model: provider.chat(stack.modelId), prompt, maxOutputTokens: 8, temperature: 0, maxRetries: 0 });
    const res = await generateText({ model: provider.chat(stack.modelId), prompt, maxOutputTokens: 8, temperature: 0, maxRetries: 0, providerOptions });
    expect(lastSent('/v1/chat/completions')).toMatchObject({ verbosity: 'low', prompt_cache_key: 'ai-sdk-test', user: 'someone' });
    expect(res.text).toBe(plain.text);
    await expectIgnoredLogged(['verbosity', 'prompt_cache_key']);
  });

  it('responses: sent, ignored, and the answer is unchanged', async () => {
    const plain = await generateText({ model: provider(stack.modelId), prompt, maxOutputTokens: 8, temperature: 0, maxRetries: 0 });
    const res = await generateText({ model: provider(stack.modelId), prompt, maxOutputTokens: 8, temperature: 0, maxRetries: 0, providerOptions });
    expect(lastSent('/v1/responses')).toMatchObject({ text: { verbosity: 'low' }, prompt_cache_key: 'ai-sdk-test', user: 'someone' });
    expect(res.text).toBe(plain.text);
  });
});

// The gateway logs each ignored field's name once per key (src/gateway/ignored_fields.ts).
async function expectIgnoredLogged(fields: string[]): Promise<void> {
  for (let i = 0; i < 20 && !fields.every((f) => stack.gateway.stderr.some((l) => l.includes('ignored unknown request field') && l.includes(`"${f}"`))); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const f of fields) {
    expect(stack.gateway.stderr.some((l) => l.includes('ignored unknown request field') && l.includes(`"${f}"`)), f).toBe(true);
  }
}

// Both tools as AI SDK tools (zod inputSchema). Without `execute` a call ends the step.
function weatherTools() {
  return {
    get_weather: tool({ description: 'Current weather in a city', inputSchema: WEATHER_ZOD }),
    get_time: tool({ description: 'Current time in a zone', inputSchema: TIME_ZOD }),
  };
}

// With `execute`, the SDK runs each call (recorded in `calls`) and sends the result back in
// its next step.
function executingWeatherTools() {
  const calls: { name: string; input: unknown }[] = [];
  const tools = {
    get_weather: tool({
      description: 'Current weather in a city',
      inputSchema: WEATHER_ZOD,
      execute: async (input) => {
        calls.push({ name: 'get_weather', input });
        return WEATHER_RESULT;
      },
    }),
    get_time: tool({
      description: 'Current time in a zone',
      inputSchema: TIME_ZOD,
      execute: async (input) => {
        calls.push({ name: 'get_time', input });
        return TIME_RESULT;
      },
    }),
  };
  return { tools, calls };
}

const toolPrompt = 'What is the weather in Paris?';
// A random model forced to call may go on calling until max tokens: one call keeps it short.
const oneCall = { openai: { parallelToolCalls: false } };

// What the tool prompt costs without tools: a round trip's second prompt holds the call and
// its result on top of it (tool_choice none leaves the tools themselves out).
async function plainPromptTokens(model: Parameters<typeof generateText>[0]['model']): Promise<number> {
  return (await generateText({ model, prompt: toolPrompt, maxOutputTokens: 1, maxRetries: 0 })).usage.inputTokens!;
}

// The SDK parsed each call's input with the tool's zod schema; an input that failed would be
// marked invalid (and answered with a tool-error), so `invalid` is checked as well.
function expectValidToolCalls(calls: { toolCallId: string; toolName: string; input: unknown; invalid?: boolean }[]): void {
  expect(calls.length).toBeGreaterThan(0);
  for (const call of calls) {
    expect(call.toolCallId).toMatch(MISTRAL_CALL_ID);
    expect(call.invalid).toBeFalsy();
    expectValidInput(call.toolName, call.input);
  }
  expect(new Set(calls.map((c) => c.toolCallId)).size).toBe(calls.length);
}

describe('AI SDK tool calling, chat provider (/v1/chat/completions)', () => {
  it("generateText toolChoice 'required': tool calls whose input validates, finish reason tool-calls", async () => {
    // One call (parallelToolCalls false), then parallel calls allowed (the SDK leaves the field out).
    for (const [seed, providerOptions] of [[1, oneCall], [2, undefined]] as const) {
      const res = await generateText({ model: provider.chat(stack.modelId), prompt: toolPrompt, tools: weatherTools(), toolChoice: 'required', maxOutputTokens: 200, temperature: 1, seed, maxRetries: 0, providerOptions });
      const sent = lastSent('/v1/chat/completions');
      expect(sent).toMatchObject({ tool_choice: 'required', seed });
      expect(sent.parallel_tool_calls).toBe(providerOptions === undefined ? undefined : false);
      expect((sent.tools as { function: { name: string } }[]).map((t) => t.function.name)).toEqual(['get_weather', 'get_time']);
      expect(res.finishReason).toBe('tool-calls');
      expect(res.text).toBe('');
      expectValidToolCalls(res.toolCalls);
      if (providerOptions !== undefined) expect(res.toolCalls).toHaveLength(1);
      expect(res.usage.outputTokens).toBeGreaterThan(0);
    }
  });

  it('generateText round trip: call, execute, answer (stopWhen stepCountIs(2))', async () => {
    const { tools, calls } = executingWeatherTools();
    const res = await generateText({
      model: provider.chat(stack.modelId),
      prompt: toolPrompt,
      tools,
      stopWhen: stepCountIs(2),
      prepareStep: ({ stepNumber }) => ({ toolChoice: stepNumber === 0 ? 'required' : 'none' }),
      maxOutputTokens: 200,
      seed: 3,
      maxRetries: 0,
      providerOptions: oneCall,
    });
    expect(res.steps).toHaveLength(2);
    const [first, second] = res.steps as [(typeof res.steps)[0], (typeof res.steps)[0]];
    expect(first.finishReason).toBe('tool-calls');
    expectValidToolCalls(first.toolCalls);
    // The SDK ran each call with its parsed input and kept the result.
    expect(calls).toEqual(first.toolCalls.map((c) => ({ name: c.toolName, input: c.input })));
    expect(first.toolResults.map((r) => r.toolCallId)).toEqual(first.toolCalls.map((c) => c.toolCallId));
    // The second request carried the calls and their results back.
    const sent = lastSent('/v1/chat/completions');
    expect(sent.tool_choice).toBe('none');
    const history = sent.messages as { role: string; tool_call_id?: string; content?: string; tool_calls?: { id: string }[] }[];
    expect(history.find((m) => m.role === 'assistant')!.tool_calls!.map((c) => c.id)).toEqual(first.toolCalls.map((c) => c.toolCallId));
    const results = history.filter((m) => m.role === 'tool');
    expect(results.map((m) => m.tool_call_id)).toEqual(first.toolCalls.map((c) => c.toolCallId));
    expect(results.every((m) => m.content!.includes('21') || m.content!.includes('12:00'))).toBe(true);
    expect(['stop', 'length']).toContain(second.finishReason);
    expect(second.toolCalls).toHaveLength(0);
    expect(second.text.length).toBeGreaterThan(0);
    expect(res.text).toBe(second.text);
    expect(second.usage.inputTokens).toBeGreaterThan((await plainPromptTokens(provider.chat(stack.modelId))) + 20);
  });

  it('streamText: the streamed tool calls are the ones generateText gives at the same seed', async () => {
    await expectStreamedCallsMatch(provider.chat(stack.modelId), '/v1/chat/completions', { temperature: 1, seed: 4 });
  });
});

// streamText's tool-call parts (the SDK assembles them from the stream's call deltas or
// function_call events) are the calls a whole generateText gives with the same sampling.
async function expectStreamedCallsMatch(model: Parameters<typeof generateText>[0]['model'], path: string, sampling: { temperature: number; seed?: number }): Promise<void> {
  const args = { model, prompt: toolPrompt, toolChoice: 'required' as const, maxOutputTokens: 200, ...sampling, maxRetries: 0, providerOptions: oneCall };
  const whole = await generateText({ ...args, tools: weatherTools() });
  const stream = streamText({ ...args, tools: weatherTools() });
  const streamed: { toolCallId: string; toolName: string; input: unknown; invalid?: boolean }[] = [];
  for await (const part of stream.fullStream) {
    if (part.type === 'tool-call') streamed.push(part);
    if (part.type === 'error') throw part.error;
  }
  expect(lastSent(path)).toMatchObject({ stream: true, tool_choice: 'required' });
  expectValidToolCalls(streamed);
  expect(streamed.map((c) => [c.toolName, c.input])).toEqual(whole.toolCalls.map((c) => [c.toolName, c.input]));
  expect(await stream.finishReason).toBe('tool-calls');
  expect((await stream.usage).outputTokens).toBe(whole.usage.outputTokens);
}

describe('AI SDK tool calling, default provider (/v1/responses)', () => {
  it("generateText toolChoice 'required': function calls whose input validates", async () => {
    const res = await generateText({ model: provider(stack.modelId), prompt: toolPrompt, tools: weatherTools(), toolChoice: 'required', maxOutputTokens: 200, temperature: 1, maxRetries: 0, providerOptions: oneCall });
    const sent = lastSent('/v1/responses');
    expect(sent).toMatchObject({ tool_choice: 'required', parallel_tool_calls: false });
    expect((sent.tools as { type: string; name: string }[]).map((t) => [t.type, t.name])).toEqual([
      ['function', 'get_weather'],
      ['function', 'get_time'],
    ]);
    expect(res.finishReason).toBe('tool-calls');
    expectValidToolCalls(res.toolCalls);
  });

  it('generateText round trip: function_call, function_call_output, answer', async () => {
    const { tools, calls } = executingWeatherTools();
    const res = await generateText({
      model: provider(stack.modelId),
      prompt: toolPrompt,
      tools,
      stopWhen: stepCountIs(2),
      prepareStep: ({ stepNumber }) => ({ toolChoice: stepNumber === 0 ? 'required' : 'none' }),
      maxOutputTokens: 200,
      temperature: 0,
      maxRetries: 0,
      providerOptions: oneCall,
    });
    expect(res.steps).toHaveLength(2);
    const [first, second] = res.steps as [(typeof res.steps)[0], (typeof res.steps)[0]];
    expect(first.finishReason).toBe('tool-calls');
    expectValidToolCalls(first.toolCalls);
    expect(calls).toEqual(first.toolCalls.map((c) => ({ name: c.toolName, input: c.input })));
    const input = lastSent('/v1/responses').input as { type?: string; call_id?: string; output?: string }[];
    expect(input.filter((i) => i.type === 'function_call').map((i) => i.call_id)).toEqual(first.toolCalls.map((c) => c.toolCallId));
    expect(input.filter((i) => i.type === 'function_call_output').map((i) => i.call_id)).toEqual(first.toolCalls.map((c) => c.toolCallId));
    expect(['stop', 'length']).toContain(second.finishReason);
    expect(second.toolCalls).toHaveLength(0);
    expect(second.text.length).toBeGreaterThan(0);
    expect(lastSent('/v1/responses').tool_choice).toBe('none');
    expect(second.usage.inputTokens).toBeGreaterThan((await plainPromptTokens(provider(stack.modelId))) + 20);
  });

  // The Responses provider drops `seed` (OpenAI's Responses API has none): greedy here.
  it('streamText: the streamed function calls are the greedy ones generateText gives', async () => {
    await expectStreamedCallsMatch(provider(stack.modelId), '/v1/responses', { temperature: 0 });
  });
});
