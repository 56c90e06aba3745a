// The product through the official `openai` client: chat and completions, streaming or not,
// usage, seeds, stop sequences, max_tokens, n, logprobs, and warm sessions.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from './helpers/stack.ts';

let stack: Stack;
let client: OpenAI;
let otherTenant: OpenAI;
beforeAll(async () => {
  stack = await startStack();
  client = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('tests'), maxRetries: 0 });
  otherTenant = new OpenAI({ baseURL: `${stack.gateway.url}/v1`, apiKey: await stack.createKey('other'), maxRetries: 0 });
}, 120_000);
afterAll(async () => stack?.stop());

const messages = [
  { role: 'system' as const, content: 'You are terse.' },
  { role: 'user' as const, content: 'Name three winds of the Mediterranean.' },
];

describe('chat completions', () => {
  it('lists the served model', async () => {
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['sirocco-test']);
  });

  it('answers with content, a finish reason and consistent usage', async () => {
    const r = await client.chat.completions.create({ model: stack.modelId, messages, max_tokens: 12, temperature: 0 });
    expect(r.object).toBe('chat.completion');
    expect(r.choices).toHaveLength(1);
    const choice = r.choices[0]!;
    expect(choice.message.role).toBe('assistant');
    expect(typeof choice.message.content).toBe('string');
    expect(['stop', 'length']).toContain(choice.finish_reason);
    const u = r.usage!;
    expect(u.prompt_tokens).toBeGreaterThan(10);
    expect(u.completion_tokens).toBeGreaterThan(0);
    expect(u.completion_tokens).toBeLessThanOrEqual(12);
    expect(u.total_tokens).toBe(u.prompt_tokens + u.completion_tokens);
    if (choice.finish_reason === 'length') expect(u.completion_tokens).toBe(12);
  });

  it('streams the same greedy text, ending with usage when asked', async () => {
    const whole = await client.chat.completions.create({ model: stack.modelId, messages, max_tokens: 20, temperature: 0, user: 'a' });
    const stream = await client.chat.completions.create({
      model: stack.modelId,
      messages,
      max_tokens: 20,
      temperature: 0,
      user: 'b',
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      for (const c of chunk.choices) {
        text += c.delta.content ?? '';
        finish = c.finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text).toBe(whole.choices[0]!.message.content);
    expect(finish).toBe(whole.choices[0]!.finish_reason);
    expect(usage?.completion_tokens).toBe(whole.usage!.completion_tokens);
    expect(usage?.prompt_tokens).toBe(whole.usage!.prompt_tokens);
  });

  it("without include_usage, the finish chunk carries the usage (Mistral's API always sends it)", async () => {
    const collect = async (includeUsage: boolean) => {
      const stream = await client.chat.completions.create({
        model: stack.modelId,
        messages,
        max_tokens: 6,
        temperature: 0,
        stream: true,
        ...(includeUsage ? { stream_options: { include_usage: true } } : {}),
      });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      return chunks;
    };
    const mistralStyle = await collect(false);
    const last = mistralStyle.at(-1)!;
    expect(last.choices[0]!.finish_reason).not.toBeNull();
    expect(last.usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: 6, total_tokens: last.usage!.prompt_tokens + 6 });
    expect(mistralStyle.slice(0, -1).every((c) => c.usage === undefined)).toBe(true);
    // With include_usage, OpenAI's way only: usage: null, then one usage chunk without choices.
    const openaiStyle = await collect(true);
    expect(openaiStyle.at(-1)).toMatchObject({ choices: [], usage: last.usage });
    expect(openaiStyle.slice(0, -1).every((c) => c.usage === null)).toBe(true);
  });

  it('same seed, same output; another seed, another output', async () => {
    const ask = (seed: number) =>
      client.chat.completions.create({ model: stack.modelId, messages, max_tokens: 24, temperature: 1, seed }).then((r) => r.choices[0]!.message.content);
    const [a, b, c] = [await ask(42), await ask(42), await ask(7)];
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });

  it('stops before a stop sequence and does not include it', async () => {
    const full = (await client.chat.completions.create({ model: stack.modelId, messages, max_tokens: 30, temperature: 0 })).choices[0]!.message.content!;
    expect(full.length).toBeGreaterThan(12);
    const stop = full.slice(8, 12);
    const expected = full.slice(0, full.indexOf(stop));
    const r = await client.chat.completions.create({ model: stack.modelId, messages, max_tokens: 30, temperature: 0, stop: [stop] });
    expect(r.choices[0]!.message.content).toBe(expected);
    expect(r.choices[0]!.finish_reason).toBe('stop');
  });

  it('n choices, each with its own index, usage summed', async () => {
    const r = await client.chat.completions.create({ model: stack.modelId, messages, max_tokens: 5, n: 3, temperature: 1, seed: 3 });
    expect(r.choices.map((c) => c.index)).toEqual([0, 1, 2]);
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(15);
    expect(r.usage!.completion_tokens).toBeGreaterThanOrEqual(3);
  });

  it('logprobs with top alternatives', async () => {
    const r = await client.chat.completions.create({ model: stack.modelId, messages, max_tokens: 4, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = r.choices[0]!.logprobs!.content!;
    expect(content.length).toBe(r.usage!.completion_tokens);
    for (const t of content) {
      expect(t.logprob).toBeLessThanOrEqual(0);
      expect(t.top_logprobs).toHaveLength(3);
      // Greedy: the chosen token is the most likely one.
      expect(t.logprob).toBeCloseTo(t.top_logprobs[0]!.logprob, 5);
    }
  });
});

describe('continuous batching', () => {
  it('concurrent requests of different lengths each get exactly their solo greedy output', async () => {
    const prompts = ['Hi', 'Tell me about the sea and the wind over it, at length, please.', 'Why?', 'A B C D E F G H I J K L M N O P'];
    const ask = (content: string, i: number) =>
      client.chat.completions.create({
        model: stack.modelId,
        messages: [{ role: 'user', content }],
        max_tokens: 8 + 6 * i,
        temperature: 0,
        user: `batch-${i}-${Math.random()}`,
      });
    const solo = [];
    for (const [i, p] of prompts.entries()) solo.push((await ask(p, i)).choices[0]!.message.content);
    const together = await Promise.all(prompts.map((p, i) => ask(p, i)));
    expect(together.map((r) => r.choices[0]!.message.content)).toEqual(solo);
  });
});

describe('completions', () => {
  it('completes a prompt, streaming or not, with the same greedy text', async () => {
    const whole = await client.completions.create({ model: stack.modelId, prompt: 'The sirocco is', max_tokens: 10, temperature: 0 });
    expect(whole.object).toBe('text_completion');
    const stream = await client.completions.create({ model: stack.modelId, prompt: 'The sirocco is', max_tokens: 10, temperature: 0, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    expect(text).toBe(whole.choices[0]!.text);
    expect(whole.usage!.completion_tokens).toBeLessThanOrEqual(10);
  });

  it('max_tokens defaults to 16 as in the OpenAI API', async () => {
    const r = await client.completions.create({ model: stack.modelId, prompt: 'Once upon a time', temperature: 0 });
    expect(r.usage!.completion_tokens).toBeLessThanOrEqual(16);
  });
});

describe('warm sessions', () => {
  it('the second turn reuses the first turn\'s cache and matches a cold run', async () => {
    // No system prompt: Mistral's v3 format moves it into the last user turn, so with one the
    // turns would share only <s>[INST].
    const messages = [{ role: 'user' as const, content: 'Say something about the wind, please.' }];
    const turn1 = await client.chat.completions.create(
      { model: stack.modelId, messages, max_tokens: 16, temperature: 0 },
      { headers: { 'x-session-id': 'conversation-1' } },
    );
    const turn2Messages = [
      ...messages,
      { role: 'assistant' as const, content: turn1.choices[0]!.message.content! },
      { role: 'user' as const, content: 'And one more?' },
    ];
    const warm = await client.chat.completions.create(
      { model: stack.modelId, messages: turn2Messages, max_tokens: 16, temperature: 0 },
      { headers: { 'x-session-id': 'conversation-1' } },
    );
    expect(warm.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan(turn1.usage!.prompt_tokens / 2);
    const cold = await client.chat.completions.create(
      { model: stack.modelId, messages: turn2Messages, max_tokens: 16, temperature: 0 },
      { headers: { 'x-session-id': 'conversation-cold' } },
    );
    expect(cold.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
    expect(warm.choices[0]!.message.content).toBe(cold.choices[0]!.message.content);
  });

  it('another API key never reuses the cache of the same session id', async () => {
    await client.chat.completions.create({ model: stack.modelId, messages, max_tokens: 4 }, { headers: { 'x-session-id': 'shared-id' } });
    const other = await otherTenant.chat.completions.create(
      { model: stack.modelId, messages, max_tokens: 4 },
      { headers: { 'x-session-id': 'shared-id' } },
    );
    expect(other.usage!.prompt_tokens_details!.cached_tokens).toBe(0);
  });
});

describe('billing and logs', () => {
  it('serves Prometheus counters of tokens and requests by key and model, to admin keys only', async () => {
    const refused = await fetch(`${stack.gateway.url}/metrics`, { headers: { authorization: `Bearer ${client.apiKey}` } });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('permission_error');
    const admin = await stack.createKey('metrics', { admin: true });
    const res = await fetch(`${stack.gateway.url}/metrics`, { headers: { authorization: `Bearer ${admin}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    const line = text.split('\n').find((l) => l.startsWith('sirocco_completion_tokens_total{') && l.includes('model="sirocco-test"'));
    expect(line).toMatch(/key_id="key_[0-9a-f]+"/);
    expect(Number(line!.split(' ').at(-1))).toBeGreaterThan(0);
    expect(text).toMatch(/sirocco_requests_total\{[^}]*status="ok"/);
    expect(text).toMatch(/sirocco_request_duration_seconds_count\{[^}]*model="sirocco-test"[^}]*\} [1-9]/);
    // Latency as users feel it, and how choices end.
    expect(text).toMatch(/sirocco_time_to_first_token_seconds_count\{[^}]*model="sirocco-test"[^}]*\} [1-9]/);
    expect(text).toMatch(/sirocco_time_per_output_token_seconds_count\{[^}]*model="sirocco-test"[^}]*\} [1-9]/);
    expect(text).toMatch(/sirocco_finish_reasons_total\{[^}]*reason="length"[^}]*\} [1-9]/);
    // The node: queue time per admitted request, K/V use as a share of its pool.
    expect(await stack.nodeMetric(stack.nodes[0]!, 'sirocco_node_queue_seconds_count')).toBeGreaterThan(0);
    const kv = await stack.nodeMetric(stack.nodes[0]!, 'sirocco_node_kv_cache_usage_ratio');
    expect(kv).toBeGreaterThan(0); // warm sessions hold blocks
    expect(kv).toBeLessThanOrEqual(1);
  });

  it('sirocco usage summarises the ledger', async () => {
    const { execFileSync } = await import('node:child_process');
    const out = JSON.parse(execFileSync(process.execPath, ['bin/sirocco.js', 'usage', '--json', '--data', stack.dataDir]).toString()) as {
      totals: { requests: number; completion_tokens: number };
    };
    expect(out.totals.requests).toBeGreaterThan(10);
    expect(out.totals.completion_tokens).toBeGreaterThan(0);
  });

  it('logs are JSON lines without keys or prompts', () => {
    const lines = [...stack.gateway.stderr, ...stack.nodes.flatMap((n) => n.stderr)];
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      expect(() => JSON.parse(line)).not.toThrow();
      expect(line).not.toContain(client.apiKey);
      expect(line).not.toContain('Mediterranean');
    }
  });
});
