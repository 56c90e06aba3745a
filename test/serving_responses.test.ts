// The Responses API (POST /v1/responses, issue 9) end to end through the official `openai`
// client: plain, with instructions, structured (text.format json_schema), streamed with
// OpenAI's named events, cut by max_output_tokens, and the stateless server's refusals.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CITY, expectCity } from './helpers/city_schema.ts';
import { startStack, type Stack } from './helpers/stack.ts';

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

  it('refuses stored-state features and tools with a 400 naming the field', async () => {
    expect(await refusal({ previous_response_id: 'resp_123' })).toMatch(
      /^400 previous_response_id: .*this server is stateless: previous_response_id is not supported; send the whole conversation in input/,
    );
    expect(await refusal({ conversation: 'conv_123' })).toMatch(/^400 conversation: .*this server is stateless/);
    expect(await refusal({ tools: [{ type: 'function', name: 'f', parameters: {} }] })).toMatch(/^400 tools: .*tools are not supported/);
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
