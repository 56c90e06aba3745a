// Tool calling end to end (issue 9) through the official `openai` client against the
// random-weight default model (Mistral v3 vocabulary): tool_choice required / named / auto /
// none, the round trip call → tool result → answer, streamed tool-call deltas, parallel calls,
// and the refusals. Forced calls are held by the call list's grammar, so they always parse and
// fit the tool's parameters, whatever the weights.
import OpenAI from 'openai';
import type { ChatCompletionMessageParam, ChatCompletionMessageFunctionToolCall } from 'openai/resources/chat/completions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.ts';
import { expectValidCall, MISTRAL_CALL_ID, WEATHER_TOOLS } from './helpers/weather_tools.ts';

let stack: Stack;
let client: OpenAI;
beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('tools'), maxRetries: 0 });
}, 120_000);
afterAll(async () => stack?.stop());

const ask: ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is the weather in Paris?' }];
const TOOL_CALLS_ID = 5; // [TOOL_CALLS] in Mistral's v3 vocabulary

const functionCalls = (calls: unknown[] | undefined) => (calls ?? []) as ChatCompletionMessageFunctionToolCall[];

async function refusal(body: object): Promise<string> {
  try {
    await client.chat.completions.create({ model: stack.modelId, messages: ask, max_tokens: 5, ...body } as never);
    return 'accepted';
  } catch (err) {
    const e = err as { status: number; error?: { message: string; param: string | null } };
    return `${e.status} ${e.error?.param}: ${e.error?.message}`;
  }
}

describe('tool_choice', () => {
  it.each([
    { seed: 1, temperature: 0 },
    { seed: 2, temperature: 1 },
    { seed: 3, temperature: 1.5 },
  ])('required: the answer is valid tool calls (seed $seed, temperature $temperature)', async ({ seed, temperature }) => {
    const res = await client.chat.completions.create({ model: stack.modelId, messages: ask, tools: WEATHER_TOOLS, tool_choice: 'required', seed, temperature, max_tokens: 200 });
    const choice = res.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const calls = functionCalls(choice.message.tool_calls);
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) {
      expect(call.id).toMatch(MISTRAL_CALL_ID);
      expect(call.type).toBe('function');
      expectValidCall(call.function.name, call.function.arguments);
    }
    expect(new Set(calls.map((c) => c.id)).size).toBe(calls.length);
  });

  it('named: only that function is called, once without parallel_tool_calls', async () => {
    for (const seed of [4, 5]) {
      const res = await client.chat.completions.create({
        model: stack.modelId,
        messages: ask,
        tools: WEATHER_TOOLS,
        tool_choice: { type: 'function', function: { name: 'get_time' } },
        parallel_tool_calls: false,
        seed,
        temperature: 1,
        max_tokens: 200,
      });
      const calls = functionCalls(res.choices[0]!.message.tool_calls);
      expect(calls).toHaveLength(1);
      expect(calls[0]!.function.name).toBe('get_time');
      expectValidCall('get_time', calls[0]!.function.arguments);
    }
  });

  it("auto: once the model writes [TOOL_CALLS], the grammar holds the call", async () => {
    // The bias makes this random model choose to call; what follows is the grammar's doing.
    const res = await client.chat.completions.create({
      model: stack.modelId,
      messages: ask,
      tools: WEATHER_TOOLS,
      logit_bias: { [TOOL_CALLS_ID]: 100 },
      seed: 6,
      temperature: 1,
      max_tokens: 200,
    });
    expect(res.choices[0]!.finish_reason).toBe('tool_calls');
    const calls = functionCalls(res.choices[0]!.message.tool_calls);
    expect(calls.length).toBeGreaterThan(0);
    for (const call of calls) expectValidCall(call.function.name, call.function.arguments);
  });

  it('none: [TOOL_CALLS] is never sampled and the tools stay out of the prompt', async () => {
    const plain = await client.chat.completions.create({ model: stack.modelId, messages: ask, max_tokens: 8, seed: 7 });
    const res = await client.chat.completions.create({
      model: stack.modelId,
      messages: ask,
      tools: WEATHER_TOOLS,
      tool_choice: 'none',
      logit_bias: { [TOOL_CALLS_ID]: 100 },
      max_tokens: 8,
      seed: 7,
    });
    expect(res.choices[0]!.message.tool_calls).toBeUndefined();
    expect(res.choices[0]!.finish_reason).not.toBe('tool_calls');
    expect(res.usage!.prompt_tokens).toBe(plain.usage!.prompt_tokens);
    const auto = await client.chat.completions.create({ model: stack.modelId, messages: ask, tools: WEATHER_TOOLS, max_tokens: 1, seed: 7 });
    expect(auto.usage!.prompt_tokens).toBeGreaterThan(plain.usage!.prompt_tokens + 50); // [AVAILABLE_TOOLS] …
  });
});

describe('tool round trip', () => {
  it('call → tool result → answer', async () => {
    const first = await client.chat.completions.create({ model: stack.modelId, messages: ask, tools: WEATHER_TOOLS, tool_choice: 'required', parallel_tool_calls: false, seed: 8, max_tokens: 200 });
    const call = functionCalls(first.choices[0]!.message.tool_calls)[0]!;
    const history: ChatCompletionMessageParam[] = [
      ...ask,
      first.choices[0]!.message as ChatCompletionMessageParam,
      { role: 'tool', tool_call_id: call.id, content: JSON.stringify({ temperature: 21, sky: 'clear' }) },
    ];
    const answer = await client.chat.completions.create({ model: stack.modelId, messages: history, tools: WEATHER_TOOLS, tool_choice: 'none', seed: 8, max_tokens: 12 });
    expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(0);
    expect(answer.choices[0]!.message.tool_calls).toBeUndefined();
    // The call ([TOOL_CALLS] [{"name": …, "arguments": …, "id": …}]</s>) and its result
    // ([TOOL_RESULTS] {"content": …, "call_id": …}[/TOOL_RESULTS]) are in the prompt.
    const plain = await client.chat.completions.create({ model: stack.modelId, messages: ask, max_tokens: 1 });
    expect(answer.usage!.prompt_tokens).toBeGreaterThan(plain.usage!.prompt_tokens + 30);
  });

  it("takes OpenAI-style call ids and object arguments (Mistral's SDK) in the history", async () => {
    const history = [
      ...ask,
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_8f2a9c0d1e', type: 'function', function: { name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } } }] },
      { role: 'tool', tool_call_id: 'call_8f2a9c0d1e', content: '21 degrees' },
    ];
    const res = await client.chat.completions.create({ model: stack.modelId, messages: history as never, tools: WEATHER_TOOLS, tool_choice: 'none', max_tokens: 4 });
    expect(res.choices[0]!.message.content).not.toBeNull();
  });
});

describe('streamed tool calls', () => {
  it('arrive as tool_calls deltas that the SDK assembles into the same calls', async () => {
    const stream = client.chat.completions.stream({
      model: stack.modelId,
      messages: ask,
      tools: WEATHER_TOOLS,
      tool_choice: 'required',
      parallel_tool_calls: false,
      seed: 9,
      temperature: 1,
      max_tokens: 200,
    });
    let deltas = 0;
    stream.on('chunk', (chunk) => (deltas += chunk.choices[0]?.delta.tool_calls?.length ?? 0));
    const done = await stream.finalChatCompletion();
    const choice = done.choices[0]!;
    expect(choice.finish_reason).toBe('tool_calls');
    const calls = functionCalls(choice.message.tool_calls);
    expect(calls.length).toBeGreaterThan(0);
    expect(deltas).toBe(calls.length);
    for (const call of calls) {
      expect(call.id).toMatch(MISTRAL_CALL_ID);
      expectValidCall(call.function.name, call.function.arguments);
    }
  });
});

describe('refusals', () => {
  it('name the parameter and the reason', async () => {
    expect(await refusal({ tool_choice: 'required' })).toMatch(/^400 tool_choice: .*needs tools/);
    expect(await refusal({ tools: WEATHER_TOOLS, tool_choice: { type: 'function', function: { name: 'nope' } } })).toMatch(/^400 tool_choice: .*'nope'/);
    expect(await refusal({ tools: [WEATHER_TOOLS[0], WEATHER_TOOLS[0]] })).toMatch(/^400 tools\[1\]\.function\.name: .*two tools/);
    expect(await refusal({ tools: [{ type: 'function', function: { name: 'bad name!' } }] })).toMatch(/^400 tools\[0\]\.function\.name: /);
    const pattern = { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { x: { type: 'string', pattern: '^a+$' } } } } };
    expect(await refusal({ tools: [pattern], tool_choice: 'required' })).toMatch(/^400 tools\[0\]\.function\.parameters\.properties\.x\.pattern: /);
    expect(await refusal({ tools: WEATHER_TOOLS, response_format: { type: 'json_object' } })).toMatch(/^400 response_format: .*tools/);
    const badArgs = [...ask, { role: 'assistant', tool_calls: [{ id: 'abcdefghi', type: 'function', function: { name: 'get_weather', arguments: '{not json' } }] }];
    expect(await refusal({ messages: badArgs })).toMatch(/^400 messages\[1\]\.tool_calls\[0\]\.function\.arguments: /);
    expect(await refusal({ messages: [...ask, { role: 'tool', content: 'x' }] })).toMatch(/^400 messages\[1\]\.tool_call_id: /);
    expect(await refusal({ messages: [{ role: 'tool', content: 'x', tool_call_id: 'abcdefghi' }] })).toMatch(/^400 messages: /);
    // An empty list is no tools, as clients that always send the field expect.
    expect(await refusal({ tools: [] })).toBe('accepted');
  });
});
