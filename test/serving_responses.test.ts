// The Responses API (POST /v1/responses, issue 9) end to end through the official `openai`
// client: plain, with instructions, structured (text.format json_schema), streamed with
// OpenAI's named events, cut by max_output_tokens, function tools (calls, their outputs sent
// back, streamed call events), and the stateless server's refusals.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITY, expectCity } from './helpers/city_schema.ts';
import { startStack, type Stack } from './helpers/stack.ts';
import { expectValidCall, MISTRAL_CALL_ID, WEATHER_TOOLS } from './helpers/weather_tools.ts';

let stack: Stack;
let client: OpenAI;
let apiKey: string;
beforeAll(async () => {
  stack = await startStack();
  apiKey = await stack.createKey('responses');
  client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey, maxRetries: 0 });
}, 120_000);
afterAll(async () => stack?.stop());

async function refusal(body: object): Promise<string> {
  try {
    await client.responses.create({ model: stack.modelId, input: 'Hi', max_output_tokens: 5, ...body } as never);
    return 'accepted';
  } catch (err) {
    const e = err as { status: number; error?: { message: string; param: string | null } };
    return `${e.status} ${e.error?.param}: ${e.error?.message}`;
  }
}

describe('/v1/responses', () => {
  it('answers a string input with a Response object and usage', async () => {
    const res = await client.responses.create({ model: stack.modelId, input: 'Tell me about the wind.', max_output_tokens: 20 });
    expect(res.id).toMatch(/^resp_/);
    expect(res.object).toBe('response');
    expect(res.model).toBe(stack.modelId);
    expect(['completed', 'incomplete']).toContain(res.status);
    expect(res.output_text.length).toBeGreaterThan(0);
    const message = res.output[0]!;
    expect(message.type).toBe('message');
    if (message.type === 'message') {
      expect(message.id).toMatch(/^msg_/);
      expect(message.role).toBe('assistant');
      expect(message.content[0]).toMatchObject({ type: 'output_text', text: res.output_text, annotations: [] });
    }
    expect(res.usage!.input_tokens).toBeGreaterThan(0);
    expect(res.usage!.output_tokens).toBeGreaterThan(0);
    expect(res.usage!.total_tokens).toBe(res.usage!.input_tokens + res.usage!.output_tokens);
    expect(res.usage!.output_tokens_details.reasoning_tokens).toBe(0);
    expect(res.tools).toEqual([]);
    expect(res.max_output_tokens).toBe(20);
  });

  it('takes instructions and message items, and echoes them', async () => {
    const input = [
      { role: 'user' as const, content: 'Hello' },
      // A previous response's output item, sent back as clients do.
      { type: 'message' as const, id: 'msg_1', status: 'completed' as const, role: 'assistant' as const, content: [{ type: 'output_text' as const, text: 'Hi there.', annotations: [] }] },
      { role: 'user' as const, content: [{ type: 'input_text' as const, text: 'And now?' }] },
    ];
    const plain = await client.responses.create({ model: stack.modelId, input, max_output_tokens: 8, temperature: 0 });
    const res = await client.responses.create({
      model: stack.modelId,
      input,
      instructions: 'You are terse.',
      max_output_tokens: 8,
      temperature: 0,
      metadata: { case: 'instructions' },
      store: false,
    } as never);
    expect(res.instructions).toBe('You are terse.');
    expect(res.metadata).toEqual({ case: 'instructions' });
    expect(res.output_text.length).toBeGreaterThan(0);
    // The instructions are part of the prompt.
    expect(res.usage!.input_tokens).toBeGreaterThan(plain.usage!.input_tokens);
  });

  it('text.format json_schema: output_text parses and validates', async () => {
    const res = await client.responses.create({
      model: stack.modelId,
      input: 'Describe a city as JSON.',
      text: { format: { type: 'json_schema', name: 'city', schema: CITY, strict: true } },
      max_output_tokens: 400,
    });
    expect(res.status).toBe('completed');
    expectCity(res.output_text);
    expect(res.text?.format?.type).toBe('json_schema');
  });

  it('streams OpenAI events whose deltas join into the final output_text', async () => {
    const stream = await client.responses.create({ model: stack.modelId, input: 'Tell me a story.', max_output_tokens: 400, stream: true, text: { format: { type: 'json_schema', name: 'city', schema: CITY, strict: true } } });
    const types: string[] = [];
    const sequence: number[] = [];
    let deltas = '';
    let final: OpenAI.Responses.Response | null = null;
    for await (const event of stream) {
      types.push(event.type);
      sequence.push(event.sequence_number);
      if (event.type === 'response.output_text.delta') {
        expect(event).toMatchObject({ output_index: 0, content_index: 0 });
        deltas += event.delta;
      }
      if (event.type === 'response.completed') final = event.response;
    }
    const distinct = types.filter((t, i) => t !== types[i - 1]);
    expect(distinct).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(sequence).toEqual(sequence.map((_, i) => i));
    expect(final).not.toBeNull();
    const message = final!.output[0]!;
    const text = message.type === 'message' && message.content[0]!.type === 'output_text' ? message.content[0]!.text : null;
    expect(text).toBe(deltas);
    expect(deltas.length).toBeGreaterThan(0);
    expect(JSON.parse(deltas)).toHaveProperty('climate');
    expect(final!.usage!.output_tokens).toBeGreaterThan(0);
  });

  it('names each SSE event after its type', async () => {
    const res = await fetch(`${stack.gateway.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: stack.modelId, input: 'Hi', max_output_tokens: 4, stream: true }),
    });
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = (await res.text()).split('\n\n').filter((e) => e.trim() !== '');
    expect(events.length).toBeGreaterThan(5);
    for (const e of events) {
      const name = /^event: (.+)$/m.exec(e)?.[1];
      const data = JSON.parse(/^data: (.+)$/m.exec(e)![1]!) as { type: string };
      expect(name).toBe(data.type);
    }
    expect(events.some((e) => e.includes('[DONE]'))).toBe(false);
  });

  it('max_output_tokens cuts the answer: status incomplete', async () => {
    const res = await client.responses.create({ model: stack.modelId, input: 'Tell me about the wind.', max_output_tokens: 3, temperature: 0 } as never);
    expect(res.status).toBe('incomplete');
    expect(res.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(res.usage!.output_tokens).toBe(3);
  });

  it('a cut stream ends with response.incomplete, as OpenAI sends it', async () => {
    const stream = await client.responses.create({ model: stack.modelId, input: 'Tell me about the wind.', max_output_tokens: 3, stream: true });
    const types: string[] = [];
    for await (const event of stream) types.push(event.type);
    expect(types.at(-1)).toBe('response.incomplete');
  });

  it('refuses stored-state features and built-in tools with a 400 naming the field', async () => {
    expect(await refusal({ previous_response_id: 'resp_123' })).toMatch(
      /^400 previous_response_id: .*this server is stateless: previous_response_id is not supported; send the whole conversation in input/,
    );
    expect(await refusal({ conversation: 'conv_123' })).toMatch(/^400 conversation: .*this server is stateless/);
    expect(await refusal({ tools: [{ type: 'web_search' }] })).toMatch(/^400 tools\[0\]\.type: .*only function tools are supported/);
    const pattern = { type: 'function', name: 'f', parameters: { type: 'object', properties: { x: { type: 'string', pattern: '^a' } } } };
    expect(await refusal({ tools: [pattern], tool_choice: 'required' })).toMatch(/^400 tools\[0\]\.parameters\.properties\.x\.pattern: /);
    expect(await refusal({ text: { format: { type: 'json_schema', name: 'c', schema: { type: 'string', pattern: '^a' } } } })).toMatch(/^400 text\.format/);
    expect(await refusal({ tools: [], store: true, some_future_field: 1 })).toBe('accepted');
  });

  it('is billed like chat: bad key 401, unknown model 404', async () => {
    const res = await fetch(`${stack.gateway.url}/v1/responses`, { method: 'POST', headers: { authorization: 'Bearer sk-wrong', 'content-type': 'application/json' }, body: '{}' });
    expect(res.status).toBe(401);
    expect(await refusal({ model: 'nope' })).toMatch(/^404 model/);
    // Served responses are in the usage ledger, under their own endpoint and resp_ id.
    const records = (await readFile(join(stack.dataDir, 'usage.jsonl'), 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { request_id: string; endpoint: string; status: string; completion_tokens: number });
    const responses = records.filter((r) => r.endpoint === 'responses');
    expect(responses.length).toBeGreaterThanOrEqual(6);
    for (const r of responses) expect(r.request_id).toMatch(/^resp_/);
    expect(responses.some((r) => r.status === 'ok' && r.completion_tokens === 3)).toBe(true);
  });
});

describe('/v1/responses with tools', () => {
  const tools = WEATHER_TOOLS.map(({ type, function: f }) => ({ type, ...f }));

  it('answers tool_choice required with function_call items, and takes their outputs back', async () => {
    const res = await client.responses.create({ model: stack.modelId, input: 'Weather in Paris?', tools, tool_choice: 'required', parallel_tool_calls: false, max_output_tokens: 200 });
    expect(res.status).toBe('completed');
    expect(res.output).toHaveLength(1);
    const call = res.output[0]!;
    expect(call.type).toBe('function_call');
    if (call.type !== 'function_call') return;
    expect(call.id).toMatch(/^fc_/);
    expect(call.call_id).toMatch(MISTRAL_CALL_ID);
    expectValidCall(call.name, call.arguments);
    expect(res.output_text).toBe('');
    expect(res.tools).toHaveLength(2);

    const answer = await client.responses.create({
      model: stack.modelId,
      input: [{ role: 'user', content: 'Weather in Paris?' }, call, { type: 'function_call_output', call_id: call.call_id, output: '{"temperature": 21}' }],
      tools,
      tool_choice: 'none',
      max_output_tokens: 8,
    });
    expect(answer.output.map((o) => o.type)).toEqual(['message']);
    expect(answer.output_text.length).toBeGreaterThan(0);
    // The call and its output are in the prompt (tool_choice none leaves the tools out).
    const plain = await client.responses.create({ model: stack.modelId, input: 'Weather in Paris?', max_output_tokens: 1 });
    expect(answer.usage!.input_tokens).toBeGreaterThan(plain.usage!.input_tokens + 30);
  });

  it('streams a named call as OpenAI does: item added, arguments delta and done, item done', async () => {
    const stream = await client.responses.create({
      model: stack.modelId,
      input: 'What time is it?',
      tools,
      tool_choice: { type: 'function', name: 'get_time' },
      parallel_tool_calls: false,
      max_output_tokens: 200,
      stream: true,
    });
    const events: { type: string; [k: string]: unknown }[] = [];
    for await (const event of stream) events.push(event as never);
    expect(events.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    const done = events[5]!.item as { type: string; name: string; arguments: string; call_id: string };
    expect(done).toMatchObject({ type: 'function_call', name: 'get_time' });
    expectValidCall('get_time', done.arguments);
    expect(events[3]!.delta).toBe(done.arguments);
    const final = events[6]!.response as { output: unknown[] };
    expect(final.output).toEqual([done]);
  });
});
