// Vercel's AI SDK (`ai` + `@ai-sdk/openai`) against a running gateway: what people write when
// they point the SDK at an OpenAI-compatible server. The chat provider
// (`createOpenAI(...).chat(model)`, POST /v1/chat/completions) with generateText, streamText
// and generateObject (a zod schema, sent as response_format json_schema and enforced by
// constrained decoding, so even the random-weight model's object validates); the default
// provider (`createOpenAI(...)(model)`, POST /v1/responses) likewise; and the OpenAI-only
// provider options the SDK sends, which the gateway ignores (and logs) rather than refuses.
import { createOpenAI, type OpenAIProvider } from '@ai-sdk/openai';
import { generateObject, generateText, streamText } from 'ai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITY_ZOD } from './helpers/city_zod.ts';
import { recordingFetch, type RecordingFetch } from './helpers/recording_fetch.ts';
import { startStack, type Stack } from './helpers/stack.ts';

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

// TOOL CALLING (not yet in the gateway): generateText/streamText with `tools` and `toolChoice`
// through both providers go here once tool calling lands.
